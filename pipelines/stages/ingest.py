"""Stage `ingest`: every file under data/raw → one `Review` per review, with a full account.

Dropping a newly published page into data/raw is all a data scientist does; found = parsed +
skipped holds for every header-like line, and unreadable files are listed, not lost.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from pipelines.config import IngestConfig, load_section
from pipelines.corpus import Skip, iter_input_files, read_path
from pipelines.records import write_json, write_reviews

log = logging.getLogger(__name__)
OUT_REVIEWS = Path("data/interim/reviews.jsonl")
OUT_REPORT = Path("data/interim/ingest_report.json")


def ingest(raw_dir: Path, max_bytes: int) -> tuple[list, dict]:
    reviews = []
    skipped: list[Skip] = []
    per_source: dict[str, dict] = {}
    files = list(iter_input_files([raw_dir], skipped))
    for skip in skipped:  # named like the parsed sources: relative to the raw folder
        if Path(skip.source).is_relative_to(raw_dir):
            skip.source = Path(skip.source).relative_to(raw_dir).as_posix()
    for path in tqdm(files, desc="ingest", unit="file", disable=None):
        source = path.relative_to(raw_dir).as_posix()
        result = read_path(path, source=source, max_bytes=max_bytes)
        if result.error:
            skipped.append(Skip(source, None, result.error))
            log.warning("%s: %s", source, result.error)
            per_source[source] = {"parser": "none", "found": 1, "parsed": 0, "skipped": 1}
            continue
        reviews.extend(result.reviews)
        skipped.extend(result.skipped)
        per_source[source] = {
            "parser": result.parser,
            "found": result.found,
            "parsed": len(result.reviews),
            "skipped": len(result.skipped),
        }
    years = Counter(str(r.year) if r.year else "unknown" for r in reviews)
    report = {
        "found": len(reviews) + len(skipped),
        "parsed": len(reviews),
        "skipped": [s.to_dict() for s in skipped],
        "with_keywords": sum(bool(r.keywords) for r in reviews),
        "per_year": dict(sorted(years.items())),
        "per_source": per_source,
    }
    return reviews, report


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_section("ingest", IngestConfig)
    reviews, report = ingest(Path(config.raw_dir), config.max_file_mb * 1024 * 1024)
    write_reviews(OUT_REVIEWS, reviews)
    write_json(OUT_REPORT, report)
    log.info(
        "ingest: found %d, parsed %d (%d with keywords), skipped %d",
        report["found"],
        report["parsed"],
        report["with_keywords"],
        len(report["skipped"]),
    )


if __name__ == "__main__":
    main()
