"""Parser for the NSPCC monthly-update pages: numbered sections `N. Review type: Title`.

These pages carry no keyword lists; their reviews reappear on the listing pages, and the dedup
stage merges them there. They still matter: an analyst may tag a monthly page directly.
"""

from __future__ import annotations

import re

from pipelines.corpus.fields import LEARNING_MARK, RECOMMENDATION_MARK, ParseResult, Skip, line_starts, summary_review
from pipelines.mapped import MappedText

SECTION = re.compile(r"^\s*(\d{1,2})\.\s+(\S.{2,200}?)\s*$")
REVIEW_WORDS = re.compile(r"\b(review|summary|report|inquiry)\b", re.I)
PAGE_DATE = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)"
    r"\s+((?:19|20)\d{2})\b"
)
OTHER_RESOURCES = re.compile(r"^\s*Other resources\b.*$", re.I | re.M)
MIN_BODY_CHARS = 40


def _title(heading: str) -> str:
    """'Serious case review: John: learning summary' -> 'John'."""
    heading = re.sub(r"\([^)]*(report|summary|review)[^)]*\)", "", heading, flags=re.I)
    parts = [p.strip() for p in heading.split(":") if p.strip()]
    names = [p for p in parts if not REVIEW_WORDS.search(p)]
    if names:
        return names[0]
    # 'Child Angela: safeguarding practice review report' has the name before the type words
    return re.split(REVIEW_WORDS, parts[0])[0].strip() if parts else heading.strip()


def _is_section_heading(match: re.Match[str]) -> bool:
    heading = match.group(2)
    return ":" in heading and REVIEW_WORDS.search(heading) is not None


def parse_monthly(text: str, source: str) -> ParseResult:
    result = ParseResult(source=source, parser="monthly")
    lines = text.splitlines()
    starts = line_starts(text)
    heads = [(i, m) for i, line in enumerate(lines) if (m := SECTION.match(line)) and _is_section_heading(m)]
    date = PAGE_DATE.search(text[:2000])
    year = int(date.group(1)) if date else None
    for k, (i, match) in enumerate(heads):
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        section = MappedText.join([MappedText.of(lines[j], starts[j]) for j in range(i + 1, end)], "\n")
        mapped_body = section.sub(OTHER_RESOURCES, "").strip()
        body = mapped_body.text
        has_marker = LEARNING_MARK.search(body) or RECOMMENDATION_MARK.search(body)
        if len(body) < MIN_BODY_CHARS or not has_marker:
            reason = "section has no summary" if len(body) < MIN_BODY_CHARS else "section has no learning"
            result.skipped.append(Skip(source, i + 1, reason, lines[i]))
            continue
        title = _title(match.group(2))
        review = summary_review("monthly", source, i + 1, title, year, "", body)
        review.mapped = mapped_body
        result.reviews.append(review)
    return result
