"""Labels of the corpus: NSPCC keywords → contract label ids per task (data/taxonomy.yaml), then the
reader corrections (data/corrections/) on top: final labels = keyword labels + adds - removes, with
each label's provenance kept (`keyword_<task>`, `<task>_added`, `<task>_removed`).

An unmapped keyword is counted for the stage to stop on (or warn, if params say so): a new keyword in
a newly published month must be decided on by a person, not silently dropped from the labels. An
invalid correction always stops it, before anything is written: a dataset never holds half a
correction set.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pipelines.labels.corrections import (
    SOURCE_ADDED,
    SOURCE_REMOVED,
    CorrectionError,
    apply_corrections,
    read_corrections,
    validate,
)
from pipelines.labels.taxonomy import TASKS, Taxonomy


class UnmappedKeywordsError(RuntimeError):
    pass


def label_reviews(reviews, taxonomy: Taxonomy) -> tuple[list[dict], dict]:
    rows: list[dict] = []
    unmapped: Counter[str] = Counter()
    ignored: Counter[str] = Counter()
    counts: dict[str, Counter[str]] = {task: Counter() for task in taxonomy.labels}
    for review in reviews:
        labels, missing = taxonomy.map_keywords(review.keywords)
        unmapped.update(missing)
        ignored.update(k for k in map(taxonomy.canonical, review.keywords) if k in taxonomy.ignored)
        for task, ids in labels.items():
            counts[task].update(ids)
        rows.append(review.to_dict() | labels)
    report = {
        "taxonomy_version": taxonomy.version,
        "reviews": len(rows),
        "with_keywords": sum(bool(r["keywords"]) for r in rows),
        "unmapped_keywords": dict(unmapped.most_common()),
        "ignored_keywords": dict(ignored.most_common()),
        "label_counts": {task: dict(c.most_common()) for task, c in counts.items()},
    }
    return rows, report


def apply_reader_corrections(rows: list[dict], corrections_dir: str | Path, vocabulary: dict[str, list[str]]) -> dict:
    """Rows gain `keyword_<task>` (the mapped keywords), `<task>_added` and `<task>_removed` (reader
    provenance), and `<task>` becomes the final label list. Raises CorrectionError listing every bad
    line, having changed nothing."""
    corrections, problems = read_corrections(corrections_dir)
    problems += validate(corrections, {r["review_id"]: r["text"] for r in rows}, vocabulary)
    if problems:
        raise CorrectionError(problems)
    applied = apply_corrections({r["review_id"]: {t: r[t] for t in TASKS} for r in rows}, corrections)
    for row in rows:
        rid = row["review_id"]
        row["checked_by"] = applied.checked_by.get(rid, "")  # a checked review is labelled, keywords or not
        for task in TASKS:
            source = applied.provenance[rid][task]
            row[f"keyword_{task}"] = row[task]
            row[f"{task}_added"] = sorted(k for k, v in source.items() if v == SOURCE_ADDED)
            row[f"{task}_removed"] = sorted(k for k, v in source.items() if v == SOURCE_REMOVED)
            row[task] = applied.labels[rid][task]
    final_counts = {task: Counter(label for r in rows for label in r[task]) for task in TASKS}
    return applied.report | {"final_label_counts": {t: dict(c.most_common()) for t, c in final_counts.items()}}
