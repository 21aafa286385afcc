"""Every header form the corpus uses, parsed in one place, so a review gets the same title, year and
area (and so the same id) whichever reader meets its header.

- Listing entries: `YYYY – Area – Title`, and the older `Month YYYY – Area – Title`, with any dash
  and spacing. The same line at the top of an uploaded document (a pasted listing entry, or a full
  report that starts with it) is that document's header, read by the same function.
- Monthly-update sections: `N. Review type: Title`, the year from the page's `Month YYYY` date.
- Full reports without such a header: the title line names the review type, the year comes from a
  `Date: Month YYYY` line and the area from the safeguarding partnership's name.

A date range ("December 2019 – July 2020 aged 11") opens many chronology lines in a report; it is
not a header, so it never makes a report look like a listing page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SPACE = r"[ \t\u00a0\u202f]"
MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
YEAR = r"(?:19|20)\d{2}"
_DATE_AHEAD = rf"(?:{MONTH}{SPACE}+)?{YEAR}\b"
# Header-like: what the listing reader counts (found = parsed + skipped), parseable or not.
HEADER = re.compile(
    rf"^{SPACE}*(?:(?P<month>{MONTH}){SPACE}+)?(?P<year>{YEAR}){SPACE}*[-\u2013\u2014]{SPACE}*"
    rf"(?!{_DATE_AHEAD})(?P<rest>\S.*?){SPACE}*$"
)
# area/title separator: an en/em dash anywhere, or a hyphen with space on both sides
# ("Stockton-on-Tees" keeps its hyphens)
SEPARATOR = re.compile(rf"{SPACE}*[\u2013\u2014]{SPACE}*|{SPACE}+-{SPACE}+")
NO_AREA_TITLE = "header has no 'Area – Title' after the year"
_HEADER_MARKS = " #*_|\t"  # markdown around a pasted header line
_TITLE_MARKS = " #*|\t"


@dataclass(frozen=True)
class Header:
    """A listing header's parts: the listing reader and the document reader build a review from these."""

    year: int
    area: str
    title: str


def is_header_like(line: str) -> bool:
    return HEADER.match(line) is not None


def parse_header(line: str) -> Header | None:
    """The parts of a `[Month] YYYY – Area – Title` line; None when the line is not one, or has no
    area and title after the year (`is_header_like` tells the two apart for the skip report)."""
    match = HEADER.match(line)
    if not match:
        return None
    parts = SEPARATOR.split(match["rest"], maxsplit=1)
    if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
        return None
    return Header(int(match["year"]), parts[0].strip(), parts[1].strip())


def leading_header(text: str) -> tuple[int, Header] | None:
    """(1-based line number, header) when the text's first non-blank line is a listing header, even
    wrapped in markdown emphasis or a heading mark ("# 2024 – Area – Title", "**...**")."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            header = parse_header(line.strip(_HEADER_MARKS))
            return (number, header) if header else None
    return None


# --- monthly-update pages -------------------------------------------------------------------------
MONTHLY_SECTION = re.compile(r"^\s*(\d{1,2})\.\s+(\S.{2,200}?)\s*$")
REVIEW_WORDS = re.compile(r"\b(review|summary|report|inquiry)\b", re.I)
PAGE_DATE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    rf"\s+({YEAR})\b"
)


def is_monthly_heading(heading: str) -> bool:
    """'Serious case review: John: learning summary' is a review's section; '3. Other news' is not."""
    return ":" in heading and REVIEW_WORDS.search(heading) is not None


def monthly_title(heading: str) -> str:
    """'Serious case review: John: learning summary' -> 'John'."""
    heading = re.sub(r"\([^)]*(report|summary|review)[^)]*\)", "", heading, flags=re.I)
    parts = [p.strip() for p in heading.split(":") if p.strip()]
    names = [p for p in parts if not REVIEW_WORDS.search(p)]
    if names:
        return names[0]
    # 'Child Angela: safeguarding practice review report' has the name before the type words
    return re.split(REVIEW_WORDS, parts[0])[0].strip() if parts else heading.strip()


def page_year(text: str) -> int | None:
    """A monthly page's year, from the first `Month YYYY` of its top."""
    date = PAGE_DATE.search(text[:2000])
    return int(date.group(1)) if date else None


# --- full reports without a listing header --------------------------------------------------------
# A report's own date, as title pages give it: "Date: July 2021", "**Date:** July 2021" (markdown), "Date of
# report: November 2019", "Report date: May 2020", "Published: September 2019", "Report finalised: March 2022",
# "Final Report – March 2022", "Date: 14 July 2021"; or a title-page line that is only "October 2022".
_REPORT_DATE = re.compile(
    r"(?:\bReport\s+date|\bDate(?: of (?:the )?(?:report|publication))?|\bPublished|\bPublication\s+date"
    r"|\bReport\s+finali[sz]ed|\bFinal\s+report)[*_]*\s*[:\u2013\u2014-]?[*_]*"
    rf"\s*(?:\d{{1,2}}\s+)?(?:\w+\s+)?({YEAR})\b",
    re.I,
)
_DATE_LINE = re.compile(rf"^[#*_\s]*(?:{MONTH})\s+({YEAR})[*_\s]*$", re.M)
_PARTNERSHIP = re.compile(r"([A-Z][A-Za-z&' ]{2,40}?)\s+Safeguarding\s+(?:Children'?s?\s+|Community\s+)?Partnership")


def report_title(head: str) -> str:
    """A report's title line names the review type; else its first substantial line; "" if none."""
    candidates = [line.strip(_TITLE_MARKS) for line in head.splitlines()]
    candidates = [c for c in candidates if 8 <= len(c) <= 150 and not re.match(r"(contents|page \d+)", c, re.I)]
    titled = [c for c in candidates[:15] if re.search(r"\breview\b", c, re.I)]
    return (titled or candidates or [""])[0]


def report_year(head: str) -> int | None:
    """The year of a report's `Date: Month YYYY` line (a bare year elsewhere is too often an event's)."""
    date = _REPORT_DATE.search(head) or _DATE_LINE.search("\n".join(head.splitlines()[:20]))
    return int(date.group(1)) if date else None


def report_area(head: str) -> str:
    """The area a report's safeguarding partnership is named after ('The Shropshire ...' -> 'Shropshire')."""
    area = _PARTNERSHIP.search(head)
    return re.sub(r"^The\s+", "", area.group(1).strip()) if area else ""
