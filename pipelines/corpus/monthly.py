"""Parser for the NSPCC monthly-update pages: numbered sections `N. Review type: Title`.

These pages carry no keyword lists; their reviews reappear on the listing pages, and the dedup
stage merges them there. They still matter: an analyst may tag a monthly page directly.
"""

from __future__ import annotations

import re

from pipelines.corpus.fields import LEARNING_MARK, RECOMMENDATION_MARK, ParseResult, Skip, line_starts, summary_review
from pipelines.corpus.headers import MONTHLY_SECTION, is_monthly_heading, monthly_title, page_year
from pipelines.mapped import MappedText

OTHER_RESOURCES = re.compile(r"^\s*Other resources\b.*$", re.I | re.M)
MIN_BODY_CHARS = 40


def parse_monthly(text: str, source: str) -> ParseResult:
    result = ParseResult(source=source, parser="monthly")
    lines = text.splitlines()
    starts = line_starts(text)
    heads = [(i, m) for i, line in enumerate(lines) if (m := MONTHLY_SECTION.match(line)) and is_monthly_heading(m[2])]
    year = page_year(text)
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
        title = monthly_title(match.group(2))
        review = summary_review("monthly", source, i + 1, title, year, "", body)
        review.mapped = mapped_body
        result.reviews.append(review)
    return result
