"""Stage `dedup`: merge the same review seen on several pages; list every merge (`pipelines.corpus.duplicates`)."""

from __future__ import annotations

import logging

from pipelines.config import DedupConfig, load_section
from pipelines.corpus.duplicates import deduplicate
from pipelines.records import read_reviews, write_json, write_reviews
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(__doc__, argv, "reviews", "out", "report")
    config = load_section("dedup", DedupConfig)
    reviews = read_reviews(args.reviews)
    kept, merges = deduplicate(reviews, config.shingle_size, config.containment, config.same_title_containment)
    write_reviews(args.out, kept)
    write_json(args.report, {"input": len(reviews), "output": len(kept), "merges": [m.to_dict() for m in merges]})
    log.info("dedup: %d in, %d out, %d merges", len(reviews), len(kept), len(merges))


if __name__ == "__main__":
    main()
