"""Reading files into text: plain text in any common encoding, HTML and PDF.

A PDF also says, by its fonts, which lines are headings (`corpus.pdf_headings`); that comes back
beside the text (`DocumentText.heading_lines`), never inside it, so offsets into the text stay exact.
Every failure is a `DocumentError` with a one-line reason, so a batch can report the file and go
on with the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.corpus.fields import ParseResult
from pipelines.corpus.headers import leading_header, report_area, report_title, report_year
from pipelines.records import Review, make_review_id

TEXT_SUFFIXES = {".txt", ".md", ".text"}
HTML_SUFFIXES = {".html", ".htm"}
PDF_SUFFIXES = {".pdf"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | PDF_SUFFIXES
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class DocumentError(Exception):
    """A file that cannot be turned into text; the message is the reason, fit for one line."""


@dataclass(frozen=True)
class DocumentText:
    """A file's text as a reader sees it, and the lines its fonts set as headings (line text → level:
    1 larger than the body, 2 bold); empty where the format has no fonts (text, HTML)."""

    text: str
    heading_lines: dict[str, int] = field(default_factory=dict)


def _looks_binary(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample if b < 9 or 13 < b < 32)
    return bool(sample) and control / len(sample) > 0.05


# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)


def _wide_encoding(data: bytes) -> str | None:
    """UTF-16 or UTF-32 without a byte-order mark, told by where the NUL bytes fall: text in
    Latin script has a NUL in every other byte (UTF-16) or three of every four (UTF-32), always
    at the same positions. Random binary data does not keep that rhythm."""
    sample = data[:8192]
    sample = sample[: len(sample) - len(sample) % 4]
    if len(sample) < 8:
        return None
    nul_rate = [sample[k::4].count(0) / (len(sample) // 4) for k in range(4)]
    if min(nul_rate[1:]) > 0.95 and nul_rate[0] < 0.05:
        return "utf-32-le"
    if min(nul_rate[:3]) > 0.95 and nul_rate[3] < 0.05:
        return "utf-32-be"
    even, odd = (nul_rate[0] + nul_rate[2]) / 2, (nul_rate[1] + nul_rate[3]) / 2
    if odd > 0.7 and even < 0.05:
        return "utf-16-le"
    if even > 0.7 and odd < 0.05:
        return "utf-16-be"
    return None


def _decode_wide(data: bytes, encoding: str, skip: int) -> str | None:
    try:
        text = data[skip:].decode(encoding)
    except UnicodeDecodeError:
        return None
    return None if _looks_binary(text.encode("utf-8")) else text


def decode_bytes(data: bytes) -> str:
    """Text in any common encoding: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE), BOM-less
    UTF-16/32 by its NUL pattern, then UTF-8, then cp1252. Only what none of these read, or what
    reads as control characters, is binary."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding == "utf-8":
                if _looks_binary(data[len(bom) :]):
                    raise DocumentError("binary data, not text")
                return data[len(bom) :].decode("utf-8", errors="replace")
            text = _decode_wide(data, encoding, len(bom))
            if text is not None:
                return text
            raise DocumentError(f"{encoding.upper()} byte-order mark, but the data is not valid {encoding.upper()}")
    wide = _wide_encoding(data)
    if wide and (text := _decode_wide(data, wide, 0)) is not None:
        return text
    if _looks_binary(data):
        raise DocumentError("binary data, not text")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def html_to_text(html: str) -> str:
    """Scripts and styles are dropped, never run; block elements become line breaks."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "svg", "head"]):
        tag.decompose()
    return soup.get_text("\n")


def pdf_to_text(path: Path) -> DocumentText:
    """The text of every page (`extract_text`, unchanged), and the heading lines its fonts show."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    from pipelines.corpus.pdf_headings import FontLines

    fonts = FontLines()
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("PDF is password-protected")
        pages = []
        for page in reader.pages:
            fonts.new_page()
            pages.append(page.extract_text(visitor_text=fonts.visit) or "")
    except DocumentError:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentError("PDF is password-protected") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"corrupt PDF ({type(exc).__name__}: {exc})") from exc
    text = "\n\n".join(pages)
    if not text.strip():
        raise DocumentError("PDF has no text layer (scanned?); run OCR on it first, e.g. ocrmypdf")
    return DocumentText(text, fonts.heading_lines())


def read_document(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> DocumentText:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(
            f"unsupported file type {suffix or '(none)'}; expected one of " + ", ".join(sorted(SUPPORTED_SUFFIXES))
        )
    try:
        if suffix in PDF_SUFFIXES:
            document = pdf_to_text(path)
        else:
            with open(path, "rb") as handle:
                data = handle.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise DocumentError(f"file larger than the {max_bytes // (1024 * 1024)} MiB limit")
            text = decode_bytes(data)
            if suffix in HTML_SUFFIXES or re.match(r"\s*<(!doctype html|html)", text[:200], re.I):
                text = html_to_text(text)
            document = DocumentText(text)
    except PermissionError as exc:
        raise DocumentError("permission denied") from exc
    except IsADirectoryError as exc:
        raise DocumentError("is a directory") from exc
    except FileNotFoundError as exc:
        raise DocumentError("file not found") from exc
    except OSError as exc:
        raise DocumentError(f"cannot read ({exc.strerror or exc})") from exc
    if not document.text.strip():
        raise DocumentError("empty file (no text)")
    return document


def parse_document(text: str, source: str, fallback_title: str = "") -> ParseResult:
    """A full report is one review; its whole text is kept for the model. A document whose first line
    is a listing header (a pasted listing entry, a report that starts with one) takes its title, year
    and area from it exactly as the listing reader would (`corpus.headers`)."""
    result = ParseResult(source=source, parser="document")
    leading = leading_header(text)
    if leading:
        header = leading[1]
        title, year, area = header.title, header.year, header.area
        review_id = make_review_id(year, area, title, text)
    else:
        head = text[:4000]
        title, year, area = report_title(head) or fallback_title, report_year(head), report_area(head)
        # a report's area never entered its id: kept out so that no stored id changes
        review_id = make_review_id(year, "", title, text)
    result.reviews.append(
        Review(review_id=review_id, source=source, title=title, year=year, area=area, text=text, form="document")
    )
    return result


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES
