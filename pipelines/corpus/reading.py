"""Readers that turn raw inputs (listing pages, monthly pages, full reports) into `Review` records.

The ingest stage and the `tag` command both call `read_path`, so training and tagging parse
documents the same way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines.corpus.documents import DocumentError, is_supported, parse_document, read_document
from pipelines.corpus.fields import ParseResult, Skip
from pipelines.corpus.headers import leading_header
from pipelines.corpus.listing import parse_listing
from pipelines.corpus.monthly import parse_monthly
from pipelines.mapped import MappedText

__all__ = ["DocumentError", "ParseResult", "Skip", "iter_input_files", "parse_text", "read_path"]


def parse_text(text: str, source: str, fallback_title: str = "") -> ParseResult:
    """A page of many reviews if its structure says so, else one document. Every review keeps the
    document text and its place in it (`Review.document_text`, `Review.mapped`).

    A listing header followed by one summary-like paragraph is a listing entry, but a full report
    that starts with a header (or has a dated line in its chronology) is no listing: when the prose
    outside the entries outweighs them, the text is one document, and its header-like lines are
    accounted for as lines of that report."""
    pages = []
    for parse in (parse_listing, parse_monthly):
        page = parse(text, source)
        if page.reviews and not (parse is parse_listing and _report_behind_entries(page, text)):
            return _with_document(page, text)
        pages.append(page)
    document = parse_document(text, source, fallback_title)
    leading = leading_header(text)
    header_line = leading[0] if leading else None
    lines = text.splitlines()
    for page in pages:
        entries = [Skip(source, line, ENTRY_IN_REPORT, lines[line - 1]) for line in _lines_of(page)]
        for skip in page.skipped + entries:
            if skip.line == header_line:
                continue  # the document's own header: parsed into its title, year and area
            skip.reason = f"header-like line inside a full report, kept as its text ({skip.reason})"
            document.skipped.append(skip)
    return _with_document(document, text)


ENTRY_IN_REPORT = "a listing entry's header, but most of the text's prose lies outside the entries"
PROSE_LINE_CHARS = 80  # navigation and list lines are shorter; report and summary paragraphs longer


def _report_behind_entries(page: ParseResult, text: str) -> bool:
    """Whether the text's prose lies mostly outside the page's entries: a report, not a listing page.
    A listing page's prose is its summaries (plus their keyword lists); a report's first paragraph
    read as an entry leaves the rest of the report outside it."""
    prose = sum(len(line.strip()) for line in text.splitlines() if len(line.strip()) >= PROSE_LINE_CHARS)
    inside = sum(len(review.text) for review in page.reviews)
    return prose - inside > inside


def _lines_of(page: ParseResult) -> list[int]:
    """The line numbers of a page's entry headers, from their `file:line` sources."""
    tails = (review.source.rsplit(":", 1)[-1] for review in page.reviews)
    return [int(tail) for tail in tails if tail.isdigit()]


def _with_document(result: ParseResult, text: str) -> ParseResult:
    for review in result.reviews:
        review.document_text = text
        if review.mapped is None:  # a whole document: its text is the document
            review.mapped = MappedText.of(review.text)
    return result


def read_path(path: str | Path, source: str | None = None, max_bytes: int | None = None) -> ParseResult:
    """One file's reviews. A PDF's font-set heading lines ride along on each review
    (`Review.heading_lines`) for `document_sections`; its text is the text as extracted."""
    path = Path(path)
    source = source or str(path)
    try:
        document = read_document(path, **({"max_bytes": max_bytes} if max_bytes else {}))
    except DocumentError as exc:
        return ParseResult(source=source, parser="none", error=str(exc))
    result = parse_text(document.text, source, fallback_title=path.stem)
    for review in result.reviews:
        review.heading_lines = dict(document.heading_lines) or None
    return result


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
