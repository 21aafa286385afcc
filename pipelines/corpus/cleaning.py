"""Cleaning a review: normalise the text fields (keeping each character's place in the document)
and enforce the leakage guard.

The guard is a hard failure, not a filter: a keyword list inside `text` means a parser bug that
would let a model read its own labels, and every figure after it would be a lie. The clean stage
and `reviewtag tag` clean reviews through `clean_review`, so training and tagging read the same text.
"""

from __future__ import annotations

from pipelines.config import CleanConfig
from pipelines.records import Review
from pipelines.text import clean_mapped, clean_text

LEAK_MARKERS = ("keywords:", "keywords :", "> read the", "read the overview report", "read the executive summary")


class LeakageError(RuntimeError):
    pass


def find_leaks(review: Review) -> list[str]:
    """What of the label source or link boilerplate would a model see in `text`?"""
    lowered = review.text.lower()
    leaks = [marker for marker in LEAK_MARKERS if marker in lowered]
    if len(review.keywords) >= 2:
        listed = ", ".join(review.keywords[:3]).lower()
        if listed in lowered:
            leaks.append(f"keyword list {listed!r}")
    return leaks


def clean_review(review: Review, drop_truncated: bool) -> Review:
    truncatable = drop_truncated and review.form == "listing"
    review.title = clean_text(review.title)
    review.area = clean_text(review.area)
    review.summary = clean_text(review.summary)
    review.learning = clean_text(review.learning)
    review.recommendations = clean_text(review.recommendations, drop_truncated=truncatable)
    if review.mapped is not None:  # keep each character's place in the document (verbatim evidence)
        review.mapped = clean_mapped(review.mapped, drop_truncated=truncatable)
        review.text = review.mapped.text
    else:
        review.text = clean_text(review.text, drop_truncated=truncatable)
    return review


def clean(reviews: list[Review], config: CleanConfig) -> tuple[list[Review], dict]:
    kept, skipped, leaks = [], [], []
    for review in reviews:
        review = clean_review(review, config.drop_truncated_tail)
        found = find_leaks(review)
        if found:
            leaks.append({"review_id": review.review_id, "source": review.source, "leaks": found})
        elif len(review.text) < config.min_text_chars:
            skipped.append(
                {
                    "review_id": review.review_id,
                    "source": review.source,
                    "reason": f"text shorter than {config.min_text_chars} chars after cleaning",
                }
            )
        else:
            kept.append(review)
    if leaks:
        raise LeakageError(f"{len(leaks)} review(s) would show their labels to a model: {leaks[:3]}")
    return kept, {"input": len(reviews), "output": len(kept), "skipped": skipped}
