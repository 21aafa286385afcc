"""The page's side of the analysts' loop: corpus reviews shown for correction (added ones first of all), the
queue of reviews still to check, and checking one.

A corpus review is tagged once per model set and kept (tagging a full report takes a second or two); the
queue is the added reviews, the ones nobody has checked first, the least certain of those first, so an
analyst's time goes where the models most need a reader.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pipelines import analyst
from pipelines.corpus.added import add_documents, added_reviews, added_stamp
from pipelines.labels.corrections import read_corrections
from pipelines.records import Review
from pipelines.web.batches import region_of
from pipelines.web.reader_view import uncertainty


@dataclass
class Shown:
    """A review as the review page shows it: its tag row, the document its offsets index, its stretch."""

    row: dict
    document: str
    region: tuple[int, int]


@dataclass
class QueueEntry:
    review_id: str
    title: str
    year: int | None
    source: str
    checked_by: list[str]  # annotators whose check stands for the review
    near: int  # labels within reach of their threshold
    margin: float  # the smallest distance of a score to its threshold
    spread: float = 0.0  # the largest gap between two ensemble members' scores on one label

    @property
    def checked(self) -> bool:
        return bool(self.checked_by)


@dataclass
class Loop:
    workbench: object  # pipelines.web.workbench.Workbench (not imported: it imports nothing from here)
    _shown: dict[tuple[str, str, str], Shown] = field(default_factory=dict, init=False)
    _added: tuple[tuple, list[Review]] = field(default=((), []), init=False)  # (folder stamp, parsed reviews)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def added(self) -> list[Review]:
        """The added reviews, parsed once per change of the added folder (every review page and the queue
        need them; a folder of full reports takes seconds to parse)."""
        stamp = added_stamp(self.workbench.raw_dir)
        with self._lock:
            if self._added[0] != stamp or not stamp:
                self._added = (stamp, added_reviews(self.workbench.raw_dir))
            return self._added[1]

    def show(self, review_id: str) -> Shown:
        """Tag a corpus review with the server's default models (raises analyst.UnknownReviewError)."""
        wb = self.workbench
        key = (review_id, wb.default_spec, wb.operating_point)
        with self._lock:
            if key in self._shown:
                return self._shown[key]
        review = analyst.find_review(review_id, wb.corpus, wb.raw_dir, self.added())
        _, row = analyst.model_labels(review, wb.models(wb.default_spec), wb.operating_point)
        shown = Shown(row, review.document_text or review.text, region_of(review))
        with self._lock:
            self._shown[key] = shown
        return shown

    def forget(self) -> None:
        """Drop the tagged corpus reviews (the models changed)."""
        with self._lock:
            self._shown.clear()

    def queue(self) -> list[QueueEntry]:
        """Every added review, unchecked first; among them the most labels near their thresholds first, then the
        widest disagreement between ensemble members (to a tenth), then the closest call."""
        corrections, _ = read_corrections(self.workbench.corrections_dir)
        checkers: dict[str, set[str]] = {}
        for c in corrections:
            if c.is_check:
                checkers.setdefault(c.review_id, set()).add(c.annotator)
        entries = []
        for review in self.added():
            near, margin, spread = uncertainty(self.show(review.review_id).row)
            who = sorted(checkers.get(review.review_id, set()))
            entries.append(
                QueueEntry(review.review_id, review.title, review.year, review.source, who, near, margin, spread)
            )
        entries.sort(key=lambda e: (e.checked, -e.near, -round(e.spread, 1), e.margin, e.review_id))
        return entries

    def neighbours(self, review_id: str) -> tuple[str | None, str | None, tuple[int, int]]:
        """(previous, next, (checked, total)) in queue order; next is the next unchecked review."""
        entries = self.queue()
        ids = [e.review_id for e in entries]
        progress = (sum(e.checked for e in entries), len(entries))
        if review_id not in ids:
            return None, next((e.review_id for e in entries if not e.checked), None), progress
        k = ids.index(review_id)
        later = [e.review_id for e in entries[k + 1 :] + entries[:k] if not e.checked]
        return (ids[k - 1] if k > 0 else None), (later[0] if later else None), progress

    def check(self, review_id: str, annotator: str) -> dict[str, list[str]]:
        """Mark the review checked with the labels the page shows the annotator (CorrectionError if invalid)."""
        wb = self.workbench
        _, final = analyst.check_row(self.show(review_id).row, annotator, wb.texts(), wb.vocabulary, wb.corrections_dir)
        return final

    def add(self, files: list[Path], names: list[str] | None = None) -> list:
        """Store uploaded documents as added reviews (the `reviewtag add` rules), each under the name the
        analyst gave it (`names`) rather than the server's temporary one; the AddResults, named so too."""
        names = names or [f.name for f in files]
        with tempfile.TemporaryDirectory(prefix="reviewtag-add-") as tmp:
            staged = []
            for k, (file, name) in enumerate(zip(files, names, strict=True)):
                target = Path(tmp) / f"{k:04d}" / (Path(name).name or file.name)
                target.parent.mkdir()
                shutil.copyfile(file, target)
                staged.append(target)
            results = add_documents(staged, self.workbench.raw_dir, known_ids=set(self.workbench.texts()))
        for result in results:
            result.source = Path(result.source).name
        return results
