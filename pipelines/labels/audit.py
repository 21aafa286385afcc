"""The label audit: how far the NSPCC keyword labels are from what a reader finds, and how far two
readers are from each other.

- keyword versus reader: the keyword labels scored as if they were a tagger, against the final
  (reader-corrected) labels, per task and split;
- what the readers changed: adds and removes per label (from the label stage's report);
- agreement between the two independent passes kept in data/gold/passes/reader-{1,2}.jsonl (in the
  corrections format; each pass's labels are
  the keyword labels plus that pass's adds minus its removes): micro-F1 per task and Cohen's kappa
  per label where both passes use the label often enough to say something.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.dataset import multi_hot
from pipelines.evaluation.scoring import micro_precision_recall, scores
from pipelines.labels.corrections import Correction, CorrectionError, apply_corrections, read_corrections, validate
from pipelines.labels.kappa import cohen_kappa
from pipelines.labels.taxonomy import TASKS

MIN_KAPPA_SUPPORT = 5  # positives in either pass before a per-label kappa is reported


def keyword_vs_reader(dataset, vocabulary: dict[str, list[str]]) -> dict:
    out: dict[str, dict] = {}
    for task, labels in vocabulary.items():
        out[task] = {}
        for split in ("train", "validation", "test"):
            part = dataset[split]
            reader = np.asarray(part[task], dtype=np.int8)
            keyword = np.asarray(part[f"keyword_{task}"], dtype=np.int8)
            result = scores(reader, keyword, labels)
            precision, recall = micro_precision_recall(reader, keyword)
            out[task][split] = {
                "reviews": len(part),
                "reader_labels": int(reader.sum()),
                "keyword_labels": int(keyword.sum()),
                "precision": round(precision, 4),
                "recall": round(recall, 4),
                "micro_f1": result["micro_f1"],
                "macro_f1": result["macro_f1"],
            }
    return out


def pass_labels(
    corrections: list[Correction], keyword: dict[str, dict[str, list[str]]]
) -> dict[str, dict[str, list[str]]]:
    return apply_corrections(keyword, corrections).labels


def agreement(
    first: list[Correction],
    second: list[Correction],
    keyword: dict[str, dict[str, list[str]]],
    vocabulary,
    passes_dir: Path,
) -> dict:
    """Pass-to-pass agreement on the reviews the second pass read (its ids file lists them)."""
    ids_file = passes_dir / "reader-2_ids.txt"
    ids = sorted(ids_file.read_text(encoding="utf-8").split()) if ids_file.exists() else []
    ids = [i for i in ids if i in keyword]
    if not ids or not first or not second:  # agreement needs both passes on record
        return {}
    subset = {i: keyword[i] for i in ids}
    one = pass_labels([c for c in first if c.review_id in subset], subset)
    two = pass_labels([c for c in second if c.review_id in subset], subset)
    out: dict[str, dict] = {"reviews": len(ids)}
    for task, labels in vocabulary.items():
        a = multi_hot([one[i][task] for i in ids], labels)
        b = multi_hot([two[i][task] for i in ids], labels)
        kappas = {}
        for j, label in enumerate(labels):
            if max(a[:, j].sum(), b[:, j].sum()) >= MIN_KAPPA_SUPPORT:
                kappas[label] = {
                    "kappa": cohen_kappa(a[:, j], b[:, j]),
                    "reader_1": int(a[:, j].sum()),
                    "reader_2": int(b[:, j].sum()),
                    "both": int((a[:, j] & b[:, j]).sum()),
                }
        values = [k["kappa"] for k in kappas.values() if k["kappa"] is not None]
        out[task] = {
            "micro_f1": scores(a, b, labels)["micro_f1"],
            "labels_reader_1": int(a.sum()),
            "labels_reader_2": int(b.sum()),
            "labels_agreed": int((a & b).sum()),
            "mean_kappa": round(float(np.mean(values)), 4) if values else None,
            "kappa": kappas,
        }
    return out


def label_audit(dataset, label_report: dict, passes_dir: Path) -> dict:
    """The audit of one dataset (a DatasetDict), the label stage's report and the reader passes."""
    vocabulary = {task: dataset["train"].features[f"{task}_labels"].feature.names for task in TASKS}
    keyword = {
        row["review_id"]: {
            task: [vocabulary[task][j] for j, v in enumerate(row[f"keyword_{task}"]) if v] for task in TASKS
        }
        for split in ("train", "validation", "test")
        for row in dataset[split]
    }
    report = label_report.get("corrections", {})
    texts = {row["review_id"]: row["text"] for split in ("train", "validation", "test") for row in dataset[split]}
    passes = {}
    for name in ("reader-1", "reader-2"):
        found, problems = read_corrections(passes_dir / f"{name}.jsonl")
        problems += validate(found, texts, vocabulary)
        if problems:
            raise CorrectionError(problems)
        passes[name] = found
    changes = report.get("per_task_label", {})
    most_added = sorted(
        ((task, label, n["add"]) for task, by in changes.items() for label, n in by.items() if n["add"]),
        key=lambda item: -item[2],
    )[:10]
    return {
        "keyword_vs_reader": keyword_vs_reader(dataset, vocabulary),
        "corrections": {
            "applied": report.get("applied"),
            "per_annotator": report.get("per_annotator"),
            "per_task_label": changes,
            "most_added": [{"task": t, "label": label, "added": n} for t, label, n in most_added],
        },
        "pass_agreement": agreement(passes["reader-1"], passes["reader-2"], keyword, vocabulary, passes_dir),
    }
