"""Readers that turn raw inputs (listing pages, monthly pages, full reports) into `Review` records.

The ingest stage and the `tag` command both call `read_path`, so training and tagging parse
documents the same way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines.corpus.documents import DocumentError, is_supported, parse_document, read_document_text
from pipelines.corpus.fields import ParseResult, Skip
from pipelines.corpus.listing import parse_listing
from pipelines.corpus.monthly import parse_monthly
from pipelines.mapped import MappedText

__all__ = ["DocumentError", "ParseResult", "Skip", "iter_input_files", "parse_text", "read_path"]


def parse_text(text: str, source: str, fallback_title: str = "") -> ParseResult:
    """A page of many reviews if its structure says so, else one document. Every review keeps the
    document text and its place in it (`Review.document_text`, `Review.mapped`)."""
    pages = []
    for parse in (parse_listing, parse_monthly):
        pages.append(parse(text, source))
        if pages[-1].reviews:
            return _with_document(pages[-1], text)
    document = parse_document(text, source, fallback_title)
    # header-like lines that led nowhere are still accounted for
    for skip in (skip for page in pages for skip in page.skipped):
        skip.reason = f"header-like line inside a full report, kept as its text ({skip.reason})"
        document.skipped.append(skip)
    return _with_document(document, text)


def _with_document(result: ParseResult, text: str) -> ParseResult:
    for review in result.reviews:
        review.document_text = text
        if review.mapped is None:  # a whole document: its text is the document
            review.mapped = MappedText.of(review.text)
    return result


def read_path(path: str | Path, source: str | None = None, max_bytes: int | None = None) -> ParseResult:
    path = Path(path)
    source = source or str(path)
    try:
        text = read_document_text(path, **({"max_bytes": max_bytes} if max_bytes else {}))
    except DocumentError as exc:
        return ParseResult(source=source, parser="none", error=str(exc))
    return parse_text(text, source, fallback_title=path.stem)


def _not_a_regular_file(path: Path) -> str | None:
    """Why a path that exists cannot be read as a document: a FIFO or device would block or
    stream forever, so only regular files are opened."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot stat ({exc.strerror or exc})"
    return None if stat.S_ISREG(mode) else "not a regular file (pipe, socket or device)"


def iter_input_files(paths: Iterable[str | Path], skipped: list[Skip] | None = None) -> Iterator[Path]:
    """Files under the given paths, recursively and sorted. Nothing is dropped silently: symlink
    loops, hidden files, unsupported types and special files are appended to `skipped` with a
    reason instead of being followed forever, opened, or ignored."""
    skipped = skipped if skipped is not None else []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, skipped)
        elif path.exists():
            reason = _not_a_regular_file(path)
            if reason:
                skipped.append(Skip(str(path), None, reason))
            else:
                yield path
        elif path.is_symlink():
            skipped.append(Skip(str(path), None, "broken symlink"))
        else:
            skipped.append(Skip(str(path), None, "no such file or folder"))


def _walk(folder: Path, skipped: list[Skip]) -> Iterator[Path]:
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        info = os.stat(root)
        if (info.st_dev, info.st_ino) in seen:
            skipped.append(Skip(root, None, "symlink loop: folder already visited"))
            dirs[:] = []
            continue
        seen.add((info.st_dev, info.st_ino))
        hidden = sorted(d for d in dirs if d.startswith("."))
        skipped.extend(Skip(str(Path(root) / d), None, "hidden folder, not searched") for d in hidden)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            file = Path(root) / name
            if name.startswith("."):
                skipped.append(Skip(str(file), None, "hidden file"))
            elif not is_supported(file):
                skipped.append(Skip(str(file), None, f"unsupported file type {file.suffix or '(none)'}"))
            elif not file.exists():
                skipped.append(Skip(str(file), None, "broken symlink"))
            elif reason := _not_a_regular_file(file):
                skipped.append(Skip(str(file), None, reason))
            else:
                yield file
