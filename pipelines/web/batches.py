"""A batch: the uploads of one submission, read and tagged in a background worker, kept in memory.

The request that uploads a batch only stores the files and returns; one worker thread reads and tags
batches in turn (the models are shared and CPU-bound, so running two at once would only slow both)
and publishes its progress, which the page polls. Reading goes file by file through the same
`collect_reviews` as `reviewtag tag`, so a file that breaks a reader becomes an error row and the
rest of the batch (and the server) carries on. The rows are exactly the CLI's rows, so the export
is `render(rows)`.
"""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.modeling.resolve import ResolvedModel
from pipelines.records import Review
from pipelines.tagging import collect_reviews, document_of, error_row, tag_reviews
from pipelines.web.uploads import Upload

PROGRESS_STEPS = 20  # tagging is split into about this many chunks, so progress moves for long batches


@dataclass
class Batch:
    id: str
    model_spec: str
    uploads: int
    created: float = field(default_factory=time.time)
    status: str = "queued"  # queued | loading | reading | tagging | done | failed
    done: int = 0
    total: int = 0
    message: str = ""
    rows: list[dict] = field(default_factory=list)  # tagged rows first, then error rows (as `reviewtag tag`)
    documents: dict[str, str] = field(default_factory=dict)  # document name -> text the offsets index
    regions: list[tuple[int, int]] = field(default_factory=list)  # tagged row -> its span in the document
    seconds: float = 0.0
    operating_point: str = "default"  # the thresholds the batch was tagged at (serve --operating-point)
    names: list[str] = field(default_factory=list)  # the inputs as the analyst named them, in upload order
    folder: Path | None = None  # where the uploads are kept until the batch is dropped ("Add to corpus")
    files: dict[str, Path] = field(default_factory=dict)  # input name -> its stored file

    @property
    def started(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.created))

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")

    def progress(self) -> dict:
        return {"status": self.status, "done": self.done, "total": self.total, "message": self.message}


class BatchStore:
    """The batches of this server process (the newest `keep`), and the one worker that runs them."""

    def __init__(self, keep: int = 50):
        self.keep = keep
        self._batches: OrderedDict[str, Batch] = OrderedDict()
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reviewtag-tagger")

    def get(self, batch_id: str) -> Batch | None:
        with self._lock:
            return self._batches.get(batch_id)

    def recent(self, n: int = 10) -> list[Batch]:
        with self._lock:
            return list(reversed(self._batches.values()))[:n]

    def submit(
        self,
        uploads: list[Upload],
        folder: Path,
        model_spec: str,
        load_models: Callable[[str], dict[str, ResolvedModel]],
        max_chars: int,
        operating_point: str = "default",
    ) -> Batch:
        batch = Batch(secrets.token_urlsafe(12), model_spec, len(uploads), operating_point=operating_point)
        batch.names, batch.folder = [u.name for u in uploads], folder
        batch.files = {u.name: u.path for u in uploads if u.path is not None and not u.refused}
        with self._lock:
            self._batches[batch.id] = batch
            while len(self._batches) > self.keep:
                oldest = next(iter(self._batches))
                if not self._batches[oldest].finished:
                    break
                dropped = self._batches.pop(oldest)
                if dropped.folder is not None:
                    shutil.rmtree(dropped.folder, ignore_errors=True)
        self._worker.submit(run_batch, batch, uploads, folder, load_models, max_chars)
        return batch

    def shutdown(self) -> None:
        """Stop the worker and delete every batch's stored uploads (they live as long as the server)."""
        self._worker.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for batch in self._batches.values():
                if batch.folder is not None:
                    shutil.rmtree(batch.folder, ignore_errors=True)


def run_batch(
    batch: Batch,
    uploads: list[Upload],
    folder: Path,
    load_models: Callable[[str], dict[str, ResolvedModel]],
    max_chars: int,
) -> None:
    """Load the model set, read every upload, tag, publish. Never raises: a failure is the batch's
    message. The uploaded files stay until the batch is dropped, so "Add to corpus" can store the file
    the analyst sent (not text extracted from it); a failed batch's are deleted at once."""
    started = time.perf_counter()
    try:
        batch.status, batch.message = "loading", f"loading model {batch.model_spec}"
        models = load_models(batch.model_spec)
        reviews, errors, notes = read_uploads(batch, uploads, max_chars)
        batch.status, batch.done, batch.total, batch.message = "tagging", 0, len(reviews), "tagging"
        rows: list[dict] = []
        step = max(1, -(-len(reviews) // PROGRESS_STEPS))
        for a in range(0, len(reviews), step):
            chunk_notes = {i - a: n for i, n in notes.items() if a <= i < a + step}
            rows += tag_reviews(reviews[a : a + step], models, notes=chunk_notes, operating_point=batch.operating_point)
            batch.done = min(a + step, len(reviews))
        for review in reviews:
            document = document_of(review)
            batch.documents.setdefault(document, review.document_text or review.text)
            batch.regions.append(region_of(review))
        batch.rows = rows + errors
        batch.status, batch.message = "done", f"{len(reviews)} review(s) tagged, {len(errors)} input(s) failed"
    except Exception as exc:  # the batch fails with a message; the server keeps serving
        batch.status, batch.message = "failed", f"{type(exc).__name__}: {exc}"
    finally:
        batch.seconds = time.perf_counter() - started
        if batch.status == "failed":
            shutil.rmtree(folder, ignore_errors=True)


def read_uploads(batch: Batch, uploads: list[Upload], max_chars: int) -> tuple[list[Review], list[dict], dict]:
    """Every upload through the CLI's readers, one at a time, with sources renamed from the server's
    file names back to the names the user knows."""
    batch.status, batch.done, batch.total, batch.message = "reading", 0, len(uploads), "reading files"
    reviews: list[Review] = []
    errors: list[dict] = []
    notes: dict[int, list[str]] = {}
    for upload in uploads:
        if upload.refused or upload.path is None:
            errors.append(error_row(upload.name, upload.refused or "not stored"))
        else:
            stored = str(upload.path)
            try:
                collected = collect_reviews([stored], on_error=lambda source, message: None, max_chars=max_chars)
            except Exception as exc:  # a reader bug on one file must not sink the batch
                errors.append(error_row(upload.name, f"could not be read ({type(exc).__name__})"))
            else:
                for k, review in enumerate(collected.reviews):
                    review.source = upload.name + review.source[len(stored) :]
                    if k in collected.notes:
                        notes[len(reviews)] = collected.notes[k]
                    reviews.append(review)
                errors += [error_row(upload.name + e["source"][len(stored) :], e["error"]) for e in collected.errors]
        batch.done += 1
    return reviews, errors, notes


def region_of(review: Review) -> tuple[int, int]:
    """The review's own stretch of its document (one entry of a listing page, or the whole report)."""
    if review.mapped is None or review.document_text is None or not review.text:
        return 0, len(review.document_text or review.text)
    return review.mapped.span(0, len(review.text))
