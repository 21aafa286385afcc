"""Uploaded bytes → files the readers can open, without trusting anything the browser said.

The type is judged by the content (a PDF by its `%PDF-` header, HTML by its opening tag, known
binary formats by their magic numbers; everything else is offered to the text reader, which
refuses binary data itself), never by the client's file name or Content-Type. The client's name is
kept only for display and for the `source` column; on disk a file is `<temp dir>/<n>.<suffix>`, a
name the server chose.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pipelines.corpus.documents import DocumentError, decode_bytes

SUPPORTED = "text, Markdown, HTML or PDF"
BINARY_MAGIC = [
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (a .docx or .xlsx is one: save it as PDF first)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (save it as PDF first)"),
    (b"\x7fELF", "a program"),
    (b"MZ", "a Windows program"),
    (b"\x1f\x8b", "a gzip archive"),
]
HTML_START = re.compile(
    r"\A\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Upload:
    """One input of a batch: where the server stored it, what the user calls it, or why it was refused."""

    name: str  # the client's name, for display and `source` only
    path: Path | None = None
    refused: str = ""


def judge(head: bytes) -> tuple[str, str]:
    """(suffix the readers should treat the bytes as, refusal reason); exactly one is non-empty."""
    if b"%PDF-" in head[:1024]:
        return ".pdf", ""
    for magic, what in BINARY_MAGIC:
        if head.startswith(magic):
            return "", f"{what}, not a review; upload {SUPPORTED}"
    try:
        text = decode_bytes(head[:4096])
    except DocumentError:
        return ".txt", ""  # the text reader gives the precise reason (binary, empty) as an error row
    return (".html" if HTML_START.match(text.lstrip("\ufeff")) else ".txt"), ""


def display_name(client_name: str | None, index: int) -> str:
    """A readable label for the file (folder uploads send `folder/file.txt`): control characters
    removed, no leading slash or `..`, at most 200 characters. Never used as a path."""
    cleaned = _CONTROL.sub("", (client_name or "").replace("\\", "/"))
    parts = [p for p in cleaned.split("/") if p not in ("", "..", ".")]
    kept: list[str] = []
    for part in reversed(parts):  # the last 200 characters, cut only between whole parts
        if kept and len(part) + 1 + sum(len(k) + 1 for k in kept) > 201:
            break
        kept.insert(0, part[-200:])
    return "/".join(kept) or f"upload-{index + 1}"


def unique(name: str, taken: set[str]) -> str:
    """Two uploads with one name (the same file chosen twice, or as a file and inside a folder) must
    stay two documents on the page: the second becomes `name (2)`."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name} ({n})"
    taken.add(candidate)
    return candidate


def walk_key(name: str) -> list[tuple[int, str]]:
    """Sort key that lists uploads in the order `reviewtag tag FOLDER` reads them (os.walk, sorted):
    a folder's files first, then its sub-folders, so the export matches the CLI's row order."""
    parts = name.split("/")
    return [(1, p) for p in parts[:-1]] + [(0, parts[-1])]


def save(stream: BinaryIO, name: str, index: int, folder: Path) -> Upload:
    """Store one upload (`name`: its display name) under a server-chosen name, or refuse it by content."""
    head = stream.read(8192)
    suffix, refused = judge(head)
    if refused:
        return Upload(name, refused=refused)
    path = folder / f"{index:05d}{suffix}"
    with open(path, "wb") as out:
        out.write(head)
        shutil.copyfileobj(stream, out, 1 << 20)
    return Upload(name, path=path)


def save_text(text: str, name: str, folder: Path, index: int) -> Upload:
    """Pasted text is read as a .txt file: markup inside it shows as typed (only a whole pasted HTML page,
    starting with <html>, is read as HTML, as `reviewtag tag` would read it)."""
    path = folder / f"{index:05d}.txt"
    path.write_text(text, encoding="utf-8", newline="")
    return Upload(name, path=path)
