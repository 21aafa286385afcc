"""Tag documents: files and folders → reviews (the ingest parsers) → labels, scores, evidence rows.

A file that cannot be read becomes a row with an `error` field and one stderr line; the rest of
the batch is still tagged. Evidence is quoted verbatim from the document as a reader sees it (the
decoded file, or the text extracted from HTML or PDF): each item is `{"text", "start", "end"}` with
`text == document_text[start:end]`, mapped back through the cleaning, never searched for.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines import long_documents
from pipelines.config import LongDocumentsConfig
from pipelines.corpus.cleaning import clean_review
from pipelines.corpus.reading import Skip, iter_input_files, read_path
from pipelines.corpus.sections import document_sections
from pipelines.modeling.base import ReviewClassifier
from pipelines.modeling.resolve import ResolvedModel
from pipelines.records import Review, atomic_open
from pipelines.text import DEFAULT_MAX_CHARS, sample_mapped

SCHEMA_VERSION = 4  # 4: `thresholds` {task: {label: threshold}} applied to the row (score >= threshold <=> given)
# `calibrated` {task: {label: score}} (out-of-fold calibrated, comparable across labels; `scores` stay raw) and
# `disagreement` {task: the largest gap between two ensemble members' scores for one label};
# 3: `sections` of a full report; 2: evidence {"text", "start", "end"} into the document text
CSV_FIELDS = [
    "schema_version",
    "source",
    "document",
    "review_id",
    "title",
    "harm_type",
    "learning_theme",
    "scores",
    "thresholds",
    "calibrated",
    "disagreement",
    "evidence",
    "sections",
    "model",
    "notes",
    "error",
]


@dataclass
class Collected:
    reviews: list[Review] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # {source, error}: inputs that produced no review
    notes: dict[int, list[str]] = field(default_factory=dict)  # review index -> caps applied etc.


def collect_reviews(
    paths: list[str],
    on_error: Callable[[str, str], None],
    max_chars: int = DEFAULT_MAX_CHARS,
    on_note: Callable[[str, str], None] | None = None,
) -> Collected:
    out = Collected()
    skipped: list[Skip] = []

    def fail(source: str, message: str) -> None:
        out.errors.append({"source": source, "error": message})
        on_error(source, message)

    for path in iter_input_files(paths, skipped):
        result = read_path(path)
        if result.error:
            fail(str(path), result.error)
            continue
        if not result.reviews:
            fail(str(path), "no review text found")
            continue
        for review in result.reviews:
            if len(review.text) > max_chars:
                note = f"text capped at {max_chars:,} of {len(review.text):,} characters (16 evenly spaced parts)"
                review.mapped = sample_mapped(review.mapped, max_chars)
                review.text = review.mapped.text
                out.notes[len(out.reviews)] = [note]
                if on_note:
                    on_note(review.source, note)
            out.reviews.append(clean_review(review, drop_truncated=False))
    for skip in skipped:
        fail(skip.source, skip.reason)
    return out


def tag_reviews(
    reviews: list[Review],
    models: dict[str, ResolvedModel],
    threshold_scale: float = 1.0,
    top_k: int | None = None,
    evidence_k: int = 3,
    progress: bool = False,
    notes: dict[int, list[str]] | None = None,
    reading: LongDocumentsConfig | None = None,
    operating_point: str = "default",
) -> list[dict]:
    """One row per review. A full report (a document of `long_documents.min_chars` or more) is read by
    its sections (`pipelines.long_documents`): each task reads its roles' sections, at its long-document
    thresholds, and the row lists the sections it found. `thresholds` are the ones each label was decided
    at (operating point, scale, long-document scale): `score >= threshold` exactly when the label is
    given, unless `top_k` dropped it (then the row's notes say so)."""
    from tqdm import tqdm

    from pipelines.config import load_section

    reading = reading or load_section("long_documents", LongDocumentsConfig)
    texts = [r.text for r in reviews]
    long = [r.form == "document" and long_documents.is_long(r.text, reading) for r in reviews]
    sections = [
        document_sections(r.text, r.heading_lines) if is_long else [] for r, is_long in zip(reviews, long, strict=True)
    ]
    per_task = {
        task: long_documents.read(
            resolved.classifier, task, texts, long, reading, threshold_scale, operating_point, sections
        )
        for task, resolved in models.items()
    }
    tasks = {
        t: TaskReading(
            m.classifier,
            per_task[t],
            applied_thresholds(m.classifier, t, reading, threshold_scale, operating_point),
            calibrated_scores(m.classifier, t, per_task[t], reading, threshold_scale),
            member_spread(per_task[t].scored),
        )
        for t, m in models.items()
    }
    rows = []
    for i, review in enumerate(tqdm(reviews, desc="evidence", unit="review", disable=not progress or None)):
        row = {
            "schema_version": SCHEMA_VERSION,
            "source": review.source,
            "document": document_of(review),
            "review_id": review.review_id,
            "title": review.title,
        }
        cells: dict[str, dict] = {"scores": {}, "thresholds": {}, "calibrated": {}, "disagreement": {}, "evidence": {}}
        row_notes = list((notes or {}).get(i, []))
        for task, reading_of_task in tasks.items():
            row[task], found, task_notes = reading_of_task.cells(task, i, review, top_k, evidence_k)
            for name, value in found.items():
                cells[name] = cells[name] | value if name == "evidence" else cells[name] | {task: value}
            row_notes += task_notes
        row |= cells | {
            "sections": [{"role": s.role, "heading": s.heading} | span_of(review, s.start, s.end) for s in sections[i]],
            "model": {task: {"name": m.name, "version": m.version} for task, m in models.items()},
            "notes": row_notes,
            "error": None,
        }
        rows.append(row)
    return rows


@dataclass
class TaskReading:
    """One task's reading of a batch, and what each of its rows shows of it."""

    model: ReviewClassifier
    read: long_documents.Reading
    limits: tuple[np.ndarray, np.ndarray]  # thresholds for summaries, for full reports
    calibrated: np.ndarray
    spread: np.ndarray

    def cells(self, task: str, i: int, review: Review, top_k: int | None, evidence_k: int):
        """(labels, {scores, thresholds, calibrated, disagreement, evidence}, notes) of document i."""
        model, read, proba = self.model, self.read, self.read.scored.proba
        chosen = [j for j in np.argsort(-proba[i], kind="stable") if read.decided[i, j]]
        labels = [model.labels[j] for j in (chosen if top_k is None else chosen[:top_k])]
        limit = self.limits[1 if read.views[i].long else 0]
        notes = []
        if len(chosen) > len(labels):
            notes.append(f"{task}: top-k {top_k} dropped {len(chosen) - len(labels)} label(s) over threshold")
        if read.views[i].note:
            notes.append(f"{task}: {read.views[i].note}")
        spans = long_documents.evidence(model, read, i, labels, evidence_k)
        found = {
            "scores": {label: shown_score(float(proba[i, j]), limit[j]) for j, label in enumerate(model.labels)},
            "thresholds": {label: float(limit[j]) for j, label in enumerate(model.labels)},
            "calibrated": {label: round(float(self.calibrated[i, j]), 4) for j, label in enumerate(model.labels)},
            "disagreement": round(float(self.spread[i]), 4),
            "evidence": {label: [verbatim(review, a, b) for a, b in f if b > a] for label, f in spans.items()},
        }
        return labels, found, notes


def member_spread(scored) -> np.ndarray:
    """Per document, the largest gap between two members' scores for one label (0 for a single model): where
    an ensemble's members disagree, a reader's decision teaches most. Members are the innermost parts that
    score every label (a routed model's learned and rule parts each cover only some)."""
    width = scored.proba.shape[1]

    def leaves(part) -> list[np.ndarray]:
        inner = [leaf for child in part.parts.values() for leaf in leaves(child)]
        full = [p for p in inner if p.shape[1] == width]
        return full or [part.proba]

    members = [leaf for child in scored.parts.values() for leaf in leaves(child)] or [scored.proba]
    stacked = np.stack(members)
    return (stacked.max(axis=0) - stacked.min(axis=0)).max(axis=1) if len(members) > 1 else np.zeros(len(stacked[0]))


def calibrated_scores(
    model: ReviewClassifier, task: str, read, reading: LongDocumentsConfig, threshold_scale: float
) -> np.ndarray:
    """The row's scores through each label's calibrator (fitted on out-of-fold predictions), so 0.3 means
    about 30% for every label; `scores` stay the raw ones the thresholds apply to."""
    scale = reading.harm_threshold_scale if task == "harm_type" else reading.theme_threshold_scale
    scales = np.array([threshold_scale * (scale if view.long else 1.0) for view in read.views])
    return model.calibrate(read.scored.proba, scales)


def applied_thresholds(
    model: ReviewClassifier, task: str, reading: LongDocumentsConfig, threshold_scale: float, operating_point: str
) -> tuple[np.ndarray, np.ndarray]:
    """The limits `long_documents.read` decides at, (summary, full report): `model.limits`, the very ones
    `model.decide` compares with, so a row shows the thresholds it was tagged at."""
    scale = reading.harm_threshold_scale if task == "harm_type" else reading.theme_threshold_scale
    return model.limits(operating_point, threshold_scale), model.limits(operating_point, threshold_scale * scale)


def shown_score(proba: float, threshold: float) -> float:
    """A score to 4 decimals, unless rounding would carry it across its threshold (0.49996 shown as
    0.5 at a 0.5 threshold, not given): then the exact value, so `score >= threshold` <=> given."""
    rounded = round(proba, 4)
    return rounded if (rounded >= threshold) == (proba >= threshold) else proba


def span_of(review: Review, start: int, end: int) -> dict:
    """A span of the model's text as offsets into the document text (as evidence is given)."""
    found = verbatim(review, start, end)
    return {"start": found["start"], "end": found["end"]}


def document_of(review: Review) -> str:
    """The input file whose text the evidence offsets index (a listing row's source is file:line)."""
    return review.source.rsplit(":", 1)[0] if review.form in ("listing", "monthly") else review.source


def verbatim(review: Review, start: int, end: int) -> dict:
    """A span of the model's (cleaned) text as the same passage of the original document."""
    if review.mapped is None or review.document_text is None:  # a review built from text alone
        return {"text": review.text[start:end], "start": start, "end": end}
    a, b = review.mapped.span(start, end)
    return {"text": review.document_text[a:b], "start": a, "end": b}


def emitted_name(document: str) -> str:
    """File name under which `tag --emit-text` writes a document's text: readable, and unique per
    input path (two inputs called report.pdf in different folders do not collide)."""
    digest = hashlib.sha1(document.encode("utf-8")).hexdigest()[:8]
    return re.sub(r"[^\w.-]", "_", Path(document).name)[:80] + f".{digest}.txt"


def emit_documents(reviews: list[Review], folder: Path) -> list[Path]:
    """Write each document text once (UTF-8, line breaks untouched), so that every evidence item
    can be checked as `text[start:end]`."""
    written: dict[str, Path] = {}
    for review in reviews:
        document = document_of(review)
        if document in written or review.document_text is None:
            continue
        path = folder / emitted_name(document)
        with atomic_open(path, newline="") as handle:
            handle.write(review.document_text)
        written[document] = path
    return list(written.values())


def error_row(source: str, message: str) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "source": source,
        "document": source,
        "review_id": None,
        "title": None,
        "harm_type": [],
        "learning_theme": [],
        "scores": {},
        "thresholds": {},
        "calibrated": {},
        "disagreement": {},
        "evidence": {},
        "sections": [],
        "model": {},
        "notes": [],
        "error": message,
    }


def render(rows: list[dict], fmt: str) -> str:
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(csv_cells(row) for row in rows)
    return buffer.getvalue()


def csv_cells(row: dict) -> dict:
    """A row as the full CSV layout's cells (lists joined, nested fields as JSON); `pipelines.exports`
    writes the same cells, so the layout lives in one place."""
    flat = dict(row)
    for task in ("harm_type", "learning_theme"):
        flat[task] = ";".join(row.get(task) or [])
    for name, empty in (
        ("scores", {}),
        ("thresholds", {}),
        ("calibrated", {}),
        ("disagreement", {}),
        ("evidence", {}),
        ("sections", []),
    ):
        flat[name] = json.dumps(row.get(name) or empty, ensure_ascii=False)
    flat["model"] = ";".join(f"{t}={m['name']}@{m['version']}" for t, m in (row.get("model") or {}).items())
    flat["notes"] = "; ".join(row.get("notes") or [])
    flat["error"] = row.get("error") or ""
    return flat


def write_atomic(path: Path, content: str) -> None:
    with atomic_open(path, newline="") as handle:
        handle.write(content)
