"""Stage `ingest`: every file under the raw folder → one `Review` per review, with a full account
(`pipelines.corpus.raw`). Dropping a newly published page into data/raw is all a data scientist does."""

from __future__ import annotations

import logging

from pipelines.config import IngestConfig, load_section
from pipelines.corpus.raw import ingest
from pipelines.records import write_json, write_reviews
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(__doc__, argv, "raw", "reviews", "report")
    config = load_section("ingest", IngestConfig)
    reviews, report = ingest(args.raw, config.max_file_mb * 1024 * 1024)
    write_reviews(args.reviews, reviews)
    write_json(args.report, report)
    log.info(
        "ingest: found %d, parsed %d (%d with keywords), skipped %d",
        report["found"],
        report["parsed"],
        report["with_keywords"],
        len(report["skipped"]),
    )


if __name__ == "__main__":
    main()
