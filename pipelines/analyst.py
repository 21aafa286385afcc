"""The analysts' loop in one place, for the CLI and the page alike: find any review of the corpus (added ones
included), tag it with the models in use, and mark it checked with the labels the annotator sees.

A check records the model's labels after the annotator's own decisions (`recording.check_labels`), so the
line says exactly what was on the screen when they pressed Done, and the next `dvc repro` learns it.
"""

from __future__ import annotations

from pathlib import Path

from pipelines import paths
from pipelines.labels.recording import corpus_texts, record_check
from pipelines.labels.taxonomy import TASKS
from pipelines.records import Review


class UnknownReviewError(LookupError):
    """A review id that neither the corpus nor the added folder holds."""


def find_review(
    review_id: str, corpus: Path | None = None, raw_dir: Path | None = None, added: list[Review] | None = None
) -> Review:
    """The review as a reader sees it: an added review is re-read from its stored file (so evidence is
    quoted from the document), a corpus review from the corpus file. `added`: the added reviews when the
    caller has them already parsed (the page keeps them), else they are read here."""
    from pipelines.corpus.added import added_reviews
    from pipelines.records import read_jsonl

    found = next(
        (r for r in (added if added is not None else added_reviews(raw_dir)) if r.review_id == review_id), None
    )
    if found:
        return found
    corpus = paths.resolve(corpus or paths.CORPUS)
    if corpus.exists():
        for row in read_jsonl(corpus):
            if row["review_id"] == review_id:
                return Review.from_dict(row)
    raise UnknownReviewError(
        f"unknown review id {review_id!r}: not in {paths.shown(corpus)} nor in data/raw/added/ "
        "(add a new review with `reviewtag add FILE`)"
    )


def model_labels(review: Review, models: dict, operating_point: str = "default") -> tuple[dict[str, list[str]], dict]:
    """The labels the models give the review (and the whole tag row, for its scores and evidence)."""
    from pipelines.tagging import tag_reviews

    row = tag_reviews([review], models, operating_point=operating_point)[0]
    return {task: list(row.get(task) or []) for task in TASKS}, row


def check(
    review_id: str,
    annotator: str,
    models: dict,
    corrections_dir: Path,
    vocabulary: dict[str, list[str]],
    operating_point: str = "default",
    note: str = "",
) -> tuple[Path, dict[str, list[str]]]:
    """Mark a review checked by `annotator` (raises CorrectionError, UnknownReviewError). The note names the
    models the labels came from, so a check can be traced to what the annotator was shown."""
    _, row = model_labels(find_review(review_id), models, operating_point)
    return check_row(row, annotator, corpus_texts(), vocabulary, corrections_dir, note)


def check_row(
    row: dict,
    annotator: str,
    texts: dict[str, str],
    vocabulary: dict[str, list[str]],
    corrections_dir: Path,
    note: str = "",
) -> tuple[Path, dict[str, list[str]]]:
    """Record the check of a review the annotator was shown as `row` (its labels, and in the note the models
    they came from); the CLI and the page both check through here."""
    labels = {task: list(row.get(task) or []) for task in TASKS}
    shown = ", ".join(f"{m['name']} {m['version']}" for m in row.get("model", {}).values())
    note = "; ".join(part for part in (f"models: {shown}" if shown else "", note.strip()) if part)
    path, _, final = record_check(row["review_id"], labels, annotator, texts, vocabulary, corrections_dir, note)
    return path, final
