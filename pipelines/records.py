"""The one record type that flows from ingest to the tagged output, and its JSONL storage.

Training data and analysts' new documents go through the same `Review`, so a review parsed for
training and a review parsed for tagging cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

TRANSIENT = ("document_text", "mapped", "heading_lines")


@dataclass
class Review:
    review_id: str
    source: str  # "file" or "file:line", so a human can find the review again
    title: str = ""
    year: int | None = None
    area: str = ""
    summary: str = ""
    learning: str = ""
    recommendations: str = ""
    keywords: list[str] = field(default_factory=list)
    text: str = ""  # what a model may read; never holds the keyword list
    form: str = "document"  # the page it came from: listing | monthly | document (a model has a `kind`)
    # Where `text` came from, for verbatim evidence: the document text as a reader sees it (the decoded
    # file, or the text extracted from HTML/PDF) and each character's span in it. Set by the parsers
    # when a document is read; never stored in the corpus files.
    document_text: str | None = field(default=None, repr=False, compare=False)
    mapped: Any = field(default=None, repr=False, compare=False)  # pipelines.mapped.MappedText
    # The lines a PDF's fonts set as headings (line text → 1 larger than the body, 2 bold), a hint for
    # `corpus.sections.document_sections`; None where the file has no fonts. Never stored either.
    heading_lines: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in TRANSIENT}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Review:
        known = {f.name for f in fields(cls)} - set(TRANSIENT)
        return cls(**{k: v for k, v in data.items() if k in known})


def slugify(value: str, max_len: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "untitled"


def make_review_id(year: int | None, area: str, title: str, body: str) -> str:
    """Readable and stable: the same review text always gets the same id, across runs and machines."""
    digest = hashlib.sha1(re.sub(r"\s+", " ", body.strip().lower()).encode("utf-8")).hexdigest()[:8]
    parts = [str(year) if year else "nd", slugify(area, 24) if area else "", slugify(title)]
    return "-".join(p for p in parts if p) + f"-{digest}"


@contextmanager
def atomic_open(path: str | Path, newline: str | None = None) -> Iterator[TextIO]:
    """Write to a temp file beside `path`, then rename: an interrupted run never leaves a
    half-written file behind, and readers never see one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    count = 0
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_json(path: str | Path, data: Any) -> None:
    with atomic_open(path) as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_reviews(path: str | Path) -> list[Review]:
    return [Review.from_dict(row) for row in read_jsonl(path)]


def write_reviews(path: str | Path, reviews: Iterable[Review]) -> int:
    return write_jsonl(path, (r.to_dict() for r in reviews))
