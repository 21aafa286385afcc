"""Reviews an analyst adds to the corpus (`reviewtag add`, the page's "Add to corpus").

A newly published review is stored, byte for byte, under `data/raw/added/`, so the ingest stage reads it
like every other raw file and its id is the one the parsers give it (the same on every run and machine).
Until the next `dvc repro` the corpus files do not hold it yet, so `corpus_reviews()` parses and cleans the
added files on the fly, the way ingest and clean will: a correction or a check recorded now is validated
against the very text the label stage will see.

Added reviews are never merged by the dedup stage with a review already in the corpus: a merge could keep
the added record and drop the corpus one, changing an id that corrections already point at.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import paths
from pipelines.corpus.origin import ADDED
from pipelines.corpus.reading import Skip, iter_input_files, read_path
from pipelines.records import Review, slugify

log = logging.getLogger(__name__)


@dataclass
class AddResult:
    source: str  # the path as the analyst gave it
    status: str  # added | already | error
    stored: str = ""  # the file under data/raw/added/ (added or already)
    review_ids: list[str] = field(default_factory=list)
    years: list[int | None] = field(default_factory=list)
    reason: str = ""

    def line(self) -> str:
        """One line for the terminal or the page."""
        if self.status == "error":
            return f"{self.source}: not added: {self.reason}"
        ids = ", ".join(self.review_ids)
        verb = "added as" if self.status == "added" else "already in the corpus as"
        return f"{self.source}: {verb} {ids} ({self.stored})"


def stored_name(path: Path, data: bytes) -> str:
    """Content-addressed, so adding the same file twice stores it once, and readable by its original name."""
    digest = hashlib.sha1(data).hexdigest()[:12]
    return f"{digest}-{slugify(path.stem, 40)}{path.suffix.lower()}"


def add_documents(
    inputs: list[str | Path], raw_dir: Path | None = None, known_ids: set[str] | None = None
) -> list[AddResult]:
    """Store each readable input under `<raw>/added/`; a file that does not parse is refused (nothing stored)
    with its reason, and the rest still run. `known_ids`: ids already in the corpus (an input whose reviews
    are all there is not stored again)."""
    raw_dir = raw_dir or paths.resolve(paths.RAW)
    target = raw_dir / ADDED
    skipped: list[Skip] = []
    results: list[AddResult] = []
    known = set(known_ids or ())
    for file in iter_input_files(inputs, skipped):
        results.append(_add_one(file, target, known))
        known.update(results[-1].review_ids)
    results += [AddResult(s.source, "error", reason=s.reason) for s in skipped]
    return results


def _add_one(file: Path, target: Path, known: set[str]) -> AddResult:
    try:
        data = file.read_bytes()
    except OSError as exc:
        return AddResult(str(file), "error", reason=f"cannot read ({exc.strerror or exc})")
    name = stored_name(file, data)
    parsed = read_path(file, source=f"{ADDED.as_posix()}/{name}")
    if parsed.error:
        return AddResult(str(file), "error", reason=parsed.error)
    if not parsed.reviews:
        return AddResult(str(file), "error", reason="no review found in it")
    ids = [r.review_id for r in parsed.reviews]
    stored = target / name
    result = AddResult(str(file), "added", paths.shown(stored), ids, [r.year for r in parsed.reviews])
    if stored.exists() or all(i in known for i in ids):
        result.status = "already"
        return result
    target.mkdir(parents=True, exist_ok=True)
    tmp = stored.with_name(f".{name}.tmp")
    shutil.copyfile(file, tmp)
    tmp.replace(stored)
    log.info("%s", result.line())
    return result


def added_files(raw_dir: Path | None = None) -> list[Path]:
    folder = (raw_dir or paths.resolve(paths.RAW)) / ADDED
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) if folder.is_dir() else []


def added_stamp(raw_dir: Path | None = None) -> tuple:
    """Changes whenever a file is added: callers that cache the corpus texts re-read them then."""
    return tuple((p.name, p.stat().st_mtime_ns) for p in added_files(raw_dir))


def added_reviews(raw_dir: Path | None = None) -> list[Review]:
    """Every added review, parsed and cleaned as ingest and clean will (with the params' clean section),
    keeping its document text for verbatim evidence. A file that no longer parses is logged and left out."""
    from pipelines.config import CleanConfig, load_section
    from pipelines.corpus.cleaning import clean_review

    raw_dir = raw_dir or paths.resolve(paths.RAW)
    config = load_section("clean", CleanConfig)
    out: list[Review] = []
    for file in added_files(raw_dir):
        parsed = read_path(file, source=file.relative_to(raw_dir).as_posix())
        if parsed.error:
            log.warning("%s: %s", paths.shown(file), parsed.error)
            continue
        out += [clean_review(r, config.drop_truncated_tail) for r in parsed.reviews]
    return out
