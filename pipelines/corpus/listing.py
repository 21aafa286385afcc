"""Parser for NSPCC "recently published case reviews" listing pages.

Each review is a header `YEAR – Area – Title` (older pages: `Month YEAR – Area – Title`; the one
header parser, `corpus.headers`, reads both) followed by one summary paragraph ending in
`Keywords: …`. The scrape around them holds navigation and unrelated news; a header-like line
that does not introduce a review is counted and skipped with its reason, never silently.
"""

from __future__ import annotations

import re

from pipelines.corpus.fields import (
    KEYWORDS_MARK,
    LEARNING_MARK,
    RECOMMENDATION_MARK,
    ParseResult,
    Skip,
    cut_keywords,
    line_starts,
    summary_review,
)
from pipelines.corpus.headers import HEADER, NO_AREA_TITLE, parse_header
from pipelines.labels.taxonomy import split_keywords
from pipelines.mapped import MappedText

__all__ = ["HEADER", "parse_listing"]
CONTINUATION = re.compile(r"^\s*(?:Learning|Recommendations?|Keywords?\s*:|>\s*Read|[a-z])")
MIN_BODY_CHARS = 40
UNMARKED_BODY_CHARS = 200  # a summary with no Learning/Keywords marker must at least be long


def _looks_like_summary(body: str) -> bool:
    marked = any(m.search(body) for m in (LEARNING_MARK, RECOMMENDATION_MARK, KEYWORDS_MARK))
    return marked or (len(body) >= UNMARKED_BODY_CHARS and "." in body)


def _body_lines(lines: list[str], start: int) -> tuple[list[int], int]:
    """Collect the summary paragraphs after a header; returns their line indexes and the index after them."""
    body: list[int] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if HEADER.match(line) or (body and not CONTINUATION.match(line)):
            break
        body.append(i)
        i += 1
    return body, i


def parse_listing(text: str, source: str) -> ParseResult:
    result = ParseResult(source=source, parser="listing")
    lines = text.splitlines()
    starts = line_starts(text)
    for number, line in enumerate(lines, start=1):
        if not HEADER.match(line):
            continue
        header = parse_header(line)
        if header is None:
            result.skipped.append(Skip(source, number, NO_AREA_TITLE, line))
            continue
        body_indexes, _ = _body_lines(lines, number)
        mapped_body = MappedText.join([MappedText.of(lines[i], starts[i]).strip() for i in body_indexes], " ")
        body = mapped_body.text
        if len(body) < MIN_BODY_CHARS:
            reason = "no summary paragraph follows the header" if not body else "summary shorter than 40 chars"
            result.skipped.append(Skip(source, number, reason, line))
            continue
        if not _looks_like_summary(body):
            result.skipped.append(
                Skip(
                    source,
                    number,
                    "text after the header is not a review summary (no learning, recommendations or keywords)",
                    line,
                )
            )
            continue
        before_keywords, raw_keywords = cut_keywords(body)  # a prefix of body
        review = summary_review(
            "listing",
            source,
            number,
            header.title,
            header.year,
            header.area,
            before_keywords,
            split_keywords(raw_keywords),
        )
        review.mapped = mapped_body[: len(before_keywords)]
        result.reviews.append(review)
    return result
