"""Full reports read as a reader reads them: harms from what happened to the child, themes from what
the review learnt, never from the contents table, methodology, references, glossary or footnotes.

The models were trained on NSPCC summaries, which condense a report's findings, learning and
recommendations. A 30-120 page report read whole offers them hundreds of items, and a label that any
one item states (max pooling) or any one pattern matches (the lexicon) climbs with length: the
champion tagged 16 of 22 themes per report. So a long document is cut into its sections
(`corpus.sections`), each task reads only the sections of its roles (`long_documents.harm_roles`,
`theme_roles`), and a label needs a higher score there (`*_threshold_scale`, chosen on the synthetic
long-document set by `python -m research.long_documents`, never on summaries). A report without
recognisable headings is read whole, with the long-document thresholds, and its row says so.

Evidence comes from the same view, mapped back to the document, and a link or a reference entry is
never evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.config import LongDocumentsConfig
from pipelines.corpus.sections import Section, document_sections, has_structure, is_link_or_reference
from pipelines.modeling.base import ReviewClassifier, Scores, Span

NO_HEADINGS = "no section headings recognised: read whole, with the long-document thresholds"


@dataclass
class View:
    """What one task's models read of one document, and how its offsets map back to the document text."""

    text: str
    pieces: list[tuple[int, int, int]]  # (start in the view, start in the document text, length)
    long: bool = False
    note: str = ""

    def to_document(self, start: int, end: int) -> Span:
        """A view span as a span of the document text (clipped to the piece it starts in)."""
        for view_start, doc_start, length in self.pieces:
            if view_start <= start < view_start + length:
                return doc_start + start - view_start, doc_start + min(end, view_start + length) - view_start
        return start, start


def whole(text: str, long: bool = False, note: str = "") -> View:
    return View(text, [(0, 0, len(text))], long, note)


def task_view(text: str, sections: list[Section], roles: list[str]) -> View:
    """The sections of `roles`, in document order, joined by blank lines."""
    parts, pieces, at = [], [], 0
    for section in sections:
        if section.role in roles and section.end > section.start:
            parts.append(text[section.start : section.end])
            pieces.append((at, section.start, section.end - section.start))
            at += section.end - section.start + 2
    if not parts:
        return whole(text, long=True, note=f"no {'/'.join(roles[:3])}... sections: read whole")
    return View("\n\n".join(parts), pieces, long=True)


def views_of(
    texts: list[str],
    task: str,
    long: list[bool],
    config: LongDocumentsConfig,
    sections: list[list[Section]] | None = None,
) -> list[View]:
    """Each text as `task` reads it. `sections` (per text, where the caller has found them already:
    both tasks and the output row read the same sections) saves cutting a report again."""
    roles = config.harm_roles if task == "harm_type" else config.theme_roles
    out = []
    for k, (text, is_long) in enumerate(zip(texts, long, strict=True)):
        if not is_long:
            out.append(whole(text))
            continue
        found = sections[k] if sections is not None else document_sections(text)
        out.append(task_view(text, found, roles) if has_structure(found) else whole(text, True, NO_HEADINGS))
    return out


def is_long(text: str, config: LongDocumentsConfig) -> bool:
    return len(text) >= config.min_chars


@dataclass
class Reading:
    """One task's model over a batch of documents, each read through its view."""

    views: list[View]
    scored: Scores
    decided: np.ndarray  # labels given, per document


def read(
    model: ReviewClassifier,
    task: str,
    texts: list[str],
    long: list[bool],
    config: LongDocumentsConfig,
    threshold_scale: float = 1.0,
    operating_point: str = "default",
    sections: list[list[Section]] | None = None,
) -> Reading:
    """Score every document through its view, at an operating point's thresholds; long documents at
    their task's long-document thresholds."""
    views = views_of(texts, task, long, config, sections)
    scored = model.score([v.text for v in views]) if views else Scores(np.zeros((0, len(model.labels))))
    scale = config.harm_threshold_scale if task == "harm_type" else config.theme_threshold_scale
    short = model.decide(scored.proba, threshold_scale, operating_point)
    if not views:
        return Reading(views, scored, short)
    longer = model.decide(scored.proba, threshold_scale * scale, operating_point)
    decided = np.where(np.array([v.long for v in views])[:, None], longer, short)
    return Reading(views, scored, decided.astype(np.int8))


def evidence(model: ReviewClassifier, reading: Reading, i: int, labels: list[str], k: int) -> dict[str, list[Span]]:
    """The evidence behind document i's labels, from its view, as spans of the document text; links
    and reference entries never count."""
    view = reading.views[i]
    found = model.evidence(view.text, labels, k=k + 2, scored=reading.scored.row(i)) if labels else {}
    out = {}
    for label, spans in found.items():
        kept = [(a, b) for a, b in spans if b > a and not is_link_or_reference(view.text[a:b])][:k]
        out[label] = [view.to_document(a, b) for a, b in kept]
    return out
