"""Stage `clean`: normalise the text fields and enforce the leakage guard.

The guard is a hard failure, not a filter: a keyword list inside `text` means a parser bug that
would let a model read its own labels, and every figure after it would be a lie.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.config import CleanConfig, load_section
from pipelines.records import Review, read_reviews, write_json, write_reviews
from pipelines.text import clean_mapped, clean_text

log = logging.getLogger(__name__)
IN_REVIEWS = Path("data/interim/reviews.jsonl")
OUT_REVIEWS = Path("data/interim/clean.jsonl")
OUT_REPORT = Path("data/interim/clean_report.json")
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
    truncatable = drop_truncated and review.kind == "listing"
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


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_section("clean", CleanConfig)
    kept, report = clean(read_reviews(IN_REVIEWS), config)
    write_reviews(OUT_REVIEWS, kept)
    write_json(OUT_REPORT, report)
    log.info("clean: %d in, %d out, %d skipped", report["input"], report["output"], len(report["skipped"]))


if __name__ == "__main__":
    main()
