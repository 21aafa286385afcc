"""Stage `dedup`: merge the same review seen on several pages; list every merge."""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.config import DedupConfig, load_section
from pipelines.dedup import deduplicate
from pipelines.records import read_reviews, write_json, write_reviews

log = logging.getLogger(__name__)
IN_REVIEWS = Path("data/interim/clean.jsonl")
OUT_REVIEWS = Path("data/interim/dedup.jsonl")
OUT_REPORT = Path("data/interim/dedup_report.json")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_section("dedup", DedupConfig)
    reviews = read_reviews(IN_REVIEWS)
    kept, merges = deduplicate(reviews, config.shingle_size, config.containment, config.same_title_containment)
    write_reviews(OUT_REVIEWS, kept)
    write_json(OUT_REPORT, {"input": len(reviews), "output": len(kept), "merges": [m.to_dict() for m in merges]})
    log.info("dedup: %d in, %d out, %d merges", len(reviews), len(kept), len(merges))


if __name__ == "__main__":
    main()
