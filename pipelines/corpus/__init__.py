"""Readers that turn raw inputs (listing pages, monthly pages, full reports) into `Review` records.

The ingest stage and the `tag` command both call `read_path`, so training and tagging parse
documents the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines.corpus.documents import DocumentError, is_supported, parse_document, read_document_text
from pipelines.corpus.fields import ParseResult, Skip
from pipelines.corpus.listing import parse_listing
from pipelines.corpus.monthly import parse_monthly

__all__ = ["DocumentError", "ParseResult", "Skip", "iter_input_files", "parse_text", "read_path"]


def parse_text(text: str, source: str, fallback_title: str = "") -> ParseResult:
    """A page of many reviews if its structure says so, else one document."""
    listing = parse_listing(text, source)
    if listing.reviews:
        return listing
    monthly = parse_monthly(text, source)
    if monthly.reviews:
        return monthly
    document = parse_document(text, source, fallback_title)
    # header-like lines that led nowhere are still accounted for
    for skip in listing.skipped + monthly.skipped:
        skip.reason = f"header-like line inside a full report, kept as its text ({skip.reason})"
        document.skipped.append(skip)
    return document


def read_path(path: str | Path, source: str | None = None, max_bytes: int | None = None) -> ParseResult:
    path = Path(path)
    source = source or str(path)
    try:
        text = read_document_text(path, **({"max_bytes": max_bytes} if max_bytes else {}))
    except DocumentError as exc:
        return ParseResult(source=source, parser="none", error=str(exc))
    return parse_text(text, source, fallback_title=path.stem)


def iter_input_files(paths: Iterable[str | Path], skipped: list[Skip] | None = None) -> Iterator[Path]:
    """Files under the given paths, recursively and sorted; symlink loops and odd entries are skipped
    with a reason (appended to `skipped`) rather than followed forever."""
    skipped = skipped if skipped is not None else []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            yield path
        elif path.is_dir():
            seen: set[tuple[int, int]] = set()
            for root, dirs, files in os.walk(path, followlinks=True):
                stat = os.stat(root)
                if (stat.st_dev, stat.st_ino) in seen:
                    skipped.append(Skip(root, None, "symlink loop: folder already visited"))
                    dirs[:] = []
                    continue
                seen.add((stat.st_dev, stat.st_ino))
                dirs.sort()
                for name in sorted(files):
                    file = Path(root) / name
                    if name.startswith("."):
                        continue
                    if not is_supported(file):
                        skipped.append(Skip(str(file), None, f"unsupported file type {file.suffix or '(none)'}"))
                        continue
                    yield file
        elif path.is_symlink():
            skipped.append(Skip(str(path), None, "broken symlink"))
        else:
            skipped.append(Skip(str(path), None, "no such file or folder"))
