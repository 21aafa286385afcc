"""Stage `clean`: normalise the text fields and enforce the leakage guard (`pipelines.corpus.cleaning`)."""

from __future__ import annotations

import logging

from pipelines.config import CleanConfig, load_section
from pipelines.corpus.cleaning import clean
from pipelines.records import read_reviews, write_json, write_reviews
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(__doc__, argv, "reviews", "out", "report")
    kept, report = clean(read_reviews(args.reviews), load_section("clean", CleanConfig))
    write_reviews(args.out, kept)
    write_json(args.report, report)
    log.info("clean: %d in, %d out, %d skipped", report["input"], report["output"], len(report["skipped"]))


if __name__ == "__main__":
    main()
