"""Where a review came from, told by its source path (relative to data/raw): kept apart from the readers so
the dedup stage can tell added reviews from the rest without depending on every parser."""

from __future__ import annotations

from pathlib import Path

from pipelines.records import Review

ADDED = Path("added")  # the folder under the raw folder that holds reviews added by analysts


def is_added(review: Review) -> bool:
    """True for a review whose source file lies in the added folder."""
    return review.source.split(":", 1)[0].startswith(f"{ADDED.as_posix()}/")
