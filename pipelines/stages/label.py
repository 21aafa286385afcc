"""Stage `label`: NSPCC keywords → contract label ids per task, through data/taxonomy.yaml.

An unmapped keyword stops the stage (or warns, if params say so): a new keyword in a newly
published month must be decided on by a person, not silently dropped from the labels.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from pathlib import Path

from pipelines.config import LabelConfig, load_section
from pipelines.records import read_reviews, write_json, write_jsonl
from pipelines.taxonomy import Taxonomy, load_taxonomy

log = logging.getLogger(__name__)
IN_REVIEWS = Path("data/interim/dedup.jsonl")
OUT_ROWS = Path("data/interim/labelled.jsonl")
OUT_REPORT = Path("data/interim/label_report.json")


class UnmappedKeywordsError(RuntimeError):
    pass


def label_reviews(reviews, taxonomy: Taxonomy) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    unmapped: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {task: Counter() for task in taxonomy.labels}
    for review in reviews:
        labels, missing = taxonomy.map_keywords(review.keywords)
        unmapped.update(missing)
        ignored.update(k for k in map(taxonomy.canonical, review.keywords) if k in taxonomy.ignored)
        for task, ids in labels.items():
            counts[task].update(ids)
        rows.append(review.to_dict() | labels)
    report = {
        "taxonomy_version": taxonomy.version,
        "reviews": len(rows),
        "with_keywords": sum(bool(r["keywords"]) for r in rows),
        "unmapped_keywords": dict(unmapped.most_common()),
        "ignored_keywords": dict(ignored.most_common()),
        "label_counts": {task: dict(c.most_common()) for task, c in counts.items()},
    }
    return rows, report


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_section("label", LabelConfig)
    taxonomy = load_taxonomy(config.taxonomy, config.contract)
    rows, report = label_reviews(read_reviews(IN_REVIEWS), taxonomy)
    write_json(OUT_REPORT, report)
    if report["unmapped_keywords"]:
        message = (
            f"{len(report['unmapped_keywords'])} keyword(s) neither mapped nor ignored in "
            f"{config.taxonomy}: {', '.join(report['unmapped_keywords'])}"
        )
        if config.on_unmapped == "error":
            log.error("%s (set label.on_unmapped: warn to continue)", message)
            sys.exit(1)
        log.warning(message)
    write_jsonl(OUT_ROWS, rows)
    log.info(
        "label: %d reviews, %d with keywords, taxonomy %s", report["reviews"], report["with_keywords"], taxonomy.version
    )


if __name__ == "__main__":
    main()
