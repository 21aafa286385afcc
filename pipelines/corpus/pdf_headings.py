"""Headings a PDF's text layer shows by its fonts: lines set larger or bolder than the body text.

A report's headings are often plain words ("What happened to Amy", "Findings of the review") that no
text pattern can tell from a sentence, but the PDF sets them in a bigger or bold font. pypdf's text
visitor reports each run of text with its font and size; the runs are gathered into lines, the body
style is the size used by most characters, and a line mostly set larger than the body (level 1) or
bold where the body is not (level 2) is a heading line. The document text itself is what
`page.extract_text()` returns, untouched: the heading lines are only a hint for
`corpus.sections.document_sections`, matched to the text's lines by their words.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LARGER = 1.15  # a heading is at least this much bigger than the body text
STYLED_SHARE = 0.8  # of a line's characters, in the heading style
MAX_HEADING_WORDS = 14
RUNNING_HEADER_PAGES = 3  # a styled line on this many pages is a running header or footer, no heading
_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demibold", re.I)
_LETTER = re.compile(r"[^\W\d_]")


def effective_size(font_size: float, cm: list[float], tm: list[float]) -> float:
    """The rendered height of text: the font size scaled by the text and graphics matrices (many
    PDFs set a font at size 1 and scale it with the matrix)."""
    c = tm[2] * cm[0] + tm[3] * cm[2]
    d = tm[2] * cm[1] + tm[3] * cm[3]
    return abs(float(font_size)) * math.hypot(c, d)


def is_bold(font: Mapping[str, Any] | None) -> bool:
    """Bold by the font's name (`/Helvetica-Bold`, `ABCDEF+Arial-BoldMT`) or its descriptor's weight."""
    if not font:
        return False
    if _BOLD_NAME.search(str(font.get("/BaseFont", ""))):
        return True
    descendants = font.get("/DescendantFonts") or []
    described = [font, *(d.get_object() for d in descendants if hasattr(d, "get_object"))]
    for item in described:
        descriptor = item.get("/FontDescriptor")
        descriptor = descriptor.get_object() if hasattr(descriptor, "get_object") else descriptor
        if descriptor and float(descriptor.get("/FontWeight", 0) or 0) >= 600:
            return True
    return False


@dataclass
class FontLines:
    """The visitor's runs gathered into lines: each line a list of (text, size, bold) runs."""

    pages: list[list[list[tuple[str, float, bool]]]] = field(default_factory=list)

    def new_page(self) -> None:
        self.pages.append([[]])

    def visit(self, text: str, cm: list[float], tm: list[float], font: Any, font_size: float) -> None:
        """pypdf's `visitor_text` callback: a run of text with its matrices, font and size."""
        if not text:
            return
        if not self.pages:
            self.new_page()
        try:
            size, bold = round(effective_size(font_size, cm, tm), 1), is_bold(font)
        except (TypeError, ValueError, AttributeError, IndexError, KeyError):
            size, bold = 0.0, False  # a font this cannot read: its text is no heading, the text is kept
        lines = self.pages[-1]
        for k, piece in enumerate(text.split("\n")):
            if k:
                lines.append([])
            if piece:
                lines[-1].append((piece, size, bold))

    def body_style(self) -> tuple[float, bool]:
        """The size used by most characters, and whether most characters of that size are bold."""
        sizes: Counter[float] = Counter()
        bold_at: Counter[float] = Counter()
        for runs in (runs for page in self.pages for runs in page):
            for text, size, bold in runs:
                chars = len(text.strip())
                sizes[size] += chars
                bold_at[size] += chars if bold else 0
        if not sizes:
            return 0.0, False
        body = sizes.most_common(1)[0][0]
        return body, bold_at[body] * 2 > sizes[body]

    def heading_lines(self) -> dict[str, int]:
        """Line text → heading level (1 larger than the body, 2 bold at body size), running headers dropped."""
        body, body_bold = self.body_style()
        if body <= 0:
            return {}
        found: dict[str, int] = {}
        pages_of: Counter[str] = Counter()
        for page in self.pages:
            on_page = {}
            for runs in page:
                text = "".join(piece for piece, _, _ in runs).strip()
                level = _line_level(runs, body, body_bold)
                if level and _could_be_heading(text):
                    on_page[text] = min(level, on_page.get(text, level))
            pages_of.update(on_page.keys())
            for text, level in on_page.items():
                found[text] = min(level, found.get(text, level))
        return {text: level for text, level in found.items() if pages_of[text] < RUNNING_HEADER_PAGES}


def _line_level(runs: list[tuple[str, float, bool]], body: float, body_bold: bool) -> int | None:
    """1 if most of the line is larger than the body, 2 if most of it is bold where the body is not."""
    total = sum(len(piece.strip()) for piece, _, _ in runs)
    if not total:
        return None
    larger = sum(len(piece.strip()) for piece, size, _ in runs if size >= body * LARGER)
    bolder = sum(len(piece.strip()) for piece, size, bold in runs if bold and not body_bold and size >= body)
    if larger >= STYLED_SHARE * total:
        return 1
    if bolder >= STYLED_SHARE * total:
        return 2
    return None


def _could_be_heading(text: str) -> bool:
    """A heading has letters and few words; a styled sentence ending in a full stop is emphasis."""
    words = text.split()
    return bool(words) and len(words) <= MAX_HEADING_WORDS and bool(_LETTER.search(text)) and not text.endswith(".")
