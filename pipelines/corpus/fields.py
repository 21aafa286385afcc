"""Shared pieces of the page parsers: the accounting types and the summary/learning/recommendations split."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipelines.records import Review, make_review_id


@dataclass
class Skip:
    source: str
    line: int | None
    reason: str
    text: str = ""

    def to_dict(self) -> dict:
        return {"source": self.source, "line": self.line, "reason": self.reason, "text": self.text[:120]}


@dataclass
class ParseResult:
    """What one input yielded. `found` counts header-like candidates: found == parsed + skipped."""

    source: str
    parser: str
    reviews: list[Review] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    error: str | None = None  # the whole input could not be read

    @property
    def found(self) -> int:
        return len(self.reviews) + len(self.skipped)


LEARNING_MARK = re.compile(r"\b(?:Key )?Learning\b[^:.\n]{0,40}:", re.I)
RECOMMENDATION_MARK = re.compile(r"\bRecommendations?\b[^:.\n]{0,60}:", re.I)
KEYWORDS_MARK = re.compile(r"\bKeywords?\s*:", re.I)
LINK_TAIL = re.compile(r"(?:>\s*Read\b|<|\bOther resources\b).*$", re.I | re.S)


def line_starts(text: str) -> list[int]:
    """Offset of each line of `text.splitlines()` in `text` (any line-break convention)."""
    starts, offset = [], 0
    for line in text.splitlines(keepends=True):
        starts.append(offset)
        offset += len(line)
    return starts


def cut_keywords(body: str) -> tuple[str, str]:
    """Split a summary body into (text before the keyword list, raw keyword list)."""
    match = KEYWORDS_MARK.search(body)
    if not match:
        return LINK_TAIL.sub("", body).rstrip(), ""
    raw = LINK_TAIL.sub("", body[match.end() :])
    return LINK_TAIL.sub("", body[: match.start()]).rstrip(), raw.strip()


def split_sections(body: str) -> tuple[str, str, str]:
    """(summary, learning, recommendations) by the markers NSPCC summaries use."""
    learning_at = LEARNING_MARK.search(body)
    rec_at = RECOMMENDATION_MARK.search(body, learning_at.end() if learning_at else 0)
    end_summary = min(m.start() for m in (learning_at, rec_at) if m) if (learning_at or rec_at) else len(body)
    summary = body[:end_summary]
    learning = body[learning_at.end() : rec_at.start() if rec_at else len(body)] if learning_at else ""
    recommendations = body[rec_at.end() :] if rec_at else ""
    return summary.strip(), learning.strip(), recommendations.strip()


def summary_review(
    form: str,
    source: str,
    line: int,
    title: str,
    year: int | None,
    area: str,
    body: str,
    keywords: list[str] | None = None,
) -> Review:
    """A review told as a page summary (listing or monthly page): sections split out of `body`."""
    summary, learning, recommendations = split_sections(body)
    return Review(
        review_id=make_review_id(year, area, title, body),
        source=f"{source}:{line}",
        title=title,
        year=year,
        area=area,
        summary=summary,
        learning=learning,
        recommendations=recommendations,
        keywords=list(keywords or []),
        text=body,
        form=form,
    )
