"""A full report's structure: its sections, each with a role, a heading and offsets into the text.

A reader of a 30-120 page review reads what happened to the child in the introduction, background
and chronology, and what the review learnt in its findings, learning, recommendations and
conclusion; the contents table, methodology, references, glossary and footnotes carry no label. The
NSPCC summaries the models were trained on are condensed versions of exactly those later sections,
so a long report is read the same way (`pipelines.long_documents`).

Headings are found line by line: markdown `#` headings, numbered ("1.", "2.3", "Section 2:",
"Part 3", "Chapter 4", roman "IV."), and short all-capital or title lines standing alone. A heading
changes the role only when its words name one ("Analysis and findings", "Recommendations"); any
other heading (a key line of enquiry, a period of the chronology) is a subsection of the role before
it. A report runs forwards: a top-level heading may not take the text back from the findings to the
background ("5. Early help: family-focused" is a finding), and a subheading ("5.1", "###") may refine
its section into learning or recommendations, never into narrative. The contents table is recognised
as such (its lines end in page numbers), as are footnote lines and reference lists.

A PDF's fonts say more than its words: lines set larger or bold (`corpus.pdf_headings`) come as a
hint, `heading_lines`, matched to the text's lines by their letters and digits alone (cleaning may
change quotes, dashes, ligatures and spaces, never words). Such a line is a heading even when its
words read like a sentence ("What happened to Amy"), and a larger font makes it top-level. Without a
hint (text, Markdown, HTML, a PDF without font information) the text patterns decide alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from pipelines.config import ROLES

__all__ = ["ROLES", "Section", "document_sections", "has_structure", "is_link_or_reference"]

# Heading words → role, first match wins (order matters: "summary and recommendations" is recommendations).
ROLE_WORDS: tuple[tuple[str, str], ...] = (
    ("contents", r"^(table of )?contents$"),
    ("footnotes", r"^(foot|end)?notes$"),
    ("references", r"\b(references|bibliography|sources|further reading|useful links|resources)\b"),
    ("glossary", r"\b(glossary|abbreviations|acronyms|terms used|terminology)\b"),
    ("appendix", r"\b(appendix|appendices|annex)\b"),
    ("recommendations", r"\brecommendations?\b"),
    ("learning", r"\b(learning|lessons|what we have learn[te]d)\b"),
    ("conclusion", r"\b(conclusions?|concluding|closing)\b"),
    ("analysis", r"\b(analysis|findings?|evaluation|discussion|practice episodes?)\b"),
    (
        "chronology",
        r"\b(chronology|timeline|narrative|key events|professional involvement|case history)\b|^what happened\b",
    ),
    ("methodology", r"\b(methodology|method|process of the review|review process|terms of reference|scope|approach)\b"),
    ("summary", r"\b(executive summary|summary)\b"),
    ("background", r"\b(backgrounds?|family|pen picture)\b"),
    ("introduction", r"\b(introduction|reason for the review|why the review|purpose of the review|context)\b"),
)
_ROLE_PATTERNS = tuple((role, re.compile(pattern)) for role, pattern in ROLE_WORDS)
# The order of a report's narrative: a top-level heading never moves the role back down this list.
NARRATIVE_RANK = {
    "front_matter": 0,
    "summary": 1,
    "introduction": 2,
    "methodology": 3,
    "background": 4,
    "chronology": 5,
    "analysis": 6,
    "learning": 7,
    "recommendations": 8,
    "conclusion": 9,
}
STRUCTURAL = ("contents", "references", "footnotes", "glossary", "appendix")
_SUBSECTION = re.compile(r"^(#{3,6}\s|(?:section\s+)?\d+\.\d+)", re.I)
_NUMBERED = re.compile(r"^(?:(?:section|part|chapter)\s+)?(?:\d+(?:\.\d+)*|[ivxlc]+)[.:)]?\s+(?=\S)", re.I)
_MARKDOWN = re.compile(r"^#{1,6}\s+")
_PAGE_NUMBER = re.compile(r"(\.{2,}|\s|\t|\|)\s*(page\s*)?\d{1,3}\s*\|?\s*$", re.I)
_FOOTNOTE = re.compile(r"^\s*(\[\^\d+\]:|[¹²³⁴⁵⁶⁷⁸⁹⁰]+\s|\d{1,2}\s+(see|https?:|www\.))", re.I)
_LINK = re.compile(r"\]\([^)]*\)|https?://|www\.", re.I)
MAX_HEADING_WORDS = 14


@dataclass(frozen=True)
class Section:
    role: str
    heading: str
    start: int  # [start, end) offsets into the text the sections were found in
    end: int

    def to_dict(self) -> dict:
        return asdict(self)


def heading_level(line: str) -> int:
    """1 for a top-level heading, 2 for a subheading ("5.1 ...", "### ...", a short title line)."""
    stripped = line.strip().strip("*_").strip()
    if _SUBSECTION.match(stripped):
        return 2
    words = _MARKDOWN.sub("", stripped)
    if _MARKDOWN.match(stripped) or _NUMBERED.match(words) or words.isupper():
        return 1
    return 2


def accepts(role: str, level: int, current: str, reached: int) -> bool:
    """Whether a heading naming `role` starts a section of it, given the current role and the furthest
    narrative rank a top-level heading has reached."""
    if role in STRUCTURAL or current in STRUCTURAL and NARRATIVE_RANK.get(role, 0) >= reached:
        return True
    rank = NARRATIVE_RANK.get(role, 0)
    if level == 2:
        return rank >= NARRATIVE_RANK["analysis"] or role == "summary"
    return rank >= reached


def heading_text(line: str) -> str | None:
    """The words of a heading line (numbering and markdown marks removed), or None if it is no heading."""
    stripped = line.strip().strip("*_").strip()
    if not stripped or len(stripped) > 120 or stripped.startswith(("|", "-", "•", "●", ">")):
        return None
    marked = bool(_MARKDOWN.match(stripped))
    words = _MARKDOWN.sub("", stripped)
    numbered = _NUMBERED.match(words)
    words = _NUMBERED.sub("", words).strip(" :.–—-*_\t")
    if not words or len(words.split()) > MAX_HEADING_WORDS or not re.search(r"[A-Za-z]", words):
        return None
    if marked:
        return words
    if words.endswith((".", ",", ";")) and not numbered:
        return None
    capitalised = words[0].isupper() or words.isupper()
    if numbered and capitalised and not re.search(r"[.;]\s", words):
        return words
    if (words.isupper() and len(words) > 3) or (len(words.split()) <= 6 and words.istitle()):
        return words
    return None


def role_of(heading: str) -> str | None:
    lowered = heading.lower()
    return next((role for role, pattern in _ROLE_PATTERNS if pattern.search(lowered)), None)


def _lines(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for line in text.splitlines(keepends=True):
        spans.append((start, start + len(line.rstrip("\r\n"))))
        start += len(line)
    return spans


def line_key(line: str) -> str:
    """A line's letters and digits, case-folded: the same for a PDF's extracted line and the cleaned
    text's line, whatever cleaning did to quotes, dashes, ligatures and spaces."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", line).casefold() if ch.isalnum())


def _hinted(line: str, level: int) -> tuple[str | None, int]:
    """A font-hinted line's heading words and level: its numbering and marks removed as for any heading;
    a numbered subsection ("5.1 ...") stays a subheading whatever its size."""
    stripped = line.strip().strip("*_").strip()
    words = _NUMBERED.sub("", _MARKDOWN.sub("", stripped)).strip(" :.–—-*_\t")
    if not words or len(words.split()) > MAX_HEADING_WORDS:
        return None, level
    return words, 2 if _SUBSECTION.match(stripped) else level


def document_sections(text: str, heading_lines: Mapping[str, int] | None = None) -> list[Section]:
    """The text cut into sections with roles; everything before the first role heading is front matter.
    Contiguous lines of one role form one section (a subsection keeps its parent's role).
    `heading_lines` (line text → level, from a PDF's fonts) promotes those lines to headings."""
    hints = {line_key(line): level for line, level in (heading_lines or {}).items()}
    hints.pop("", None)
    marks: list[tuple[int, str, str]] = []  # (start, role, heading)
    in_contents = False
    reached = 0  # the furthest narrative rank a top-level heading has reached
    for a, b in _lines(text):
        line = text[a:b]
        if in_contents and (_PAGE_NUMBER.search(line) or not line.strip()):
            continue  # a contents line ("6 Summary and Recommendations  Page 24")
        in_contents = False
        if _FOOTNOTE.match(line):
            marks.append((a, "footnotes", line.strip()[:80]))
            continue
        heading, level = heading_text(line), heading_level(line)
        if hints and (key := line_key(line)) in hints:
            hinted, hinted_level = _hinted(line, hints[key])
            heading, level = heading or hinted, min(level, hinted_level)
        role = role_of(heading) if heading else None
        current = marks[-1][1] if marks else "front_matter"
        if role and accepts(role, level, current, reached):
            marks.append((a, role, heading))
            in_contents = role == "contents"
            if level == 1 and role in NARRATIVE_RANK:
                reached = max(reached, NARRATIVE_RANK[role])
        elif marks and marks[-1][1] == "footnotes" and line.strip():
            marks.append((a, _role_before_footnotes(marks), ""))  # the text resumes after a footnote line
    return _cut(text, marks)


def _cut(text: str, marks: list[tuple[int, str, str]]) -> list[Section]:
    """Sections between the marks; a mark without a heading (text resuming after a footnote) joins the
    section of its role before it."""
    if not marks or marks[0][0] > 0:
        marks.insert(0, (0, "front_matter", ""))
    sections: list[Section] = []
    for k, (start, role, heading) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else len(text)
        if sections and sections[-1].role == role and not heading:
            sections[-1] = Section(role, sections[-1].heading, sections[-1].start, end)
        elif end > start:
            sections.append(Section(role, heading, start, end))
    return sections


def _role_before_footnotes(marks: list[tuple[int, str, str]]) -> str:
    return next((role for _, role, _ in reversed(marks) if role != "footnotes"), "front_matter")


def has_structure(sections: list[Section]) -> bool:
    """Whether headings were recognised: a report with none is read whole (and its row says so)."""
    return any(s.role not in ("front_matter", "footnotes") for s in sections)


def is_link_or_reference(text: str) -> bool:
    """A passage that is a link, a URL or a reference-list entry: never evidence."""
    return bool(_LINK.search(text))
