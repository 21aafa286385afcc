"""The raw folder read with a full account: every file parsed into `Review` records, or listed with
the reason it was not (found = parsed + skipped holds for every header-like line)."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from tqdm import tqdm

from pipelines.corpus.reading import Skip, iter_input_files, read_path

log = logging.getLogger(__name__)


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
