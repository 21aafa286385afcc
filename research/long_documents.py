"""How the champion reads full reports, before and after reading them by their sections:
`python -m research.long_documents` → experiments/long_documents.json.

Two sets of long documents outside the corpus: the 24 SYNTHETIC reports of data/gold/synthetic (the
development set: the long-document threshold scales are chosen here, by 4-fold cross-validation over
reports) and the 2 real reports of data/gold/full_reports_gold.jsonl (judged only, never used to
choose). For each: labels per report (given vs gold), harm and theme precision / recall / F1 read whole
(the old way: whole text, summary thresholds) and read by sections (pipelines.long_documents), and the
sections the evidence came from. The chosen scales go into params.yaml `long_documents`.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

from pipelines import long_documents
from pipelines.config import LongDocumentsConfig, load_section
from pipelines.corpus.sections import document_sections
from pipelines.dataset import multi_hot
from pipelines.evaluation.reports import load_gold
from pipelines.evaluation.scoring import micro_precision_recall, scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.resolve import resolve

OUT = Path("experiments/long_documents.json")
SYNTHETIC = Path("data/gold/synthetic/gold.jsonl")
REAL = Path("data/gold/full_reports_gold.jsonl")
GRID = np.round(np.arange(1.0, 2.51, 0.1), 2)
FOLDS = 4


def figures(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    precision, recall = micro_precision_recall(y, pred)
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "micro_f1": scores(y, pred, labels)["micro_f1"],
        "labels_per_report": round(float(pred.sum(1).mean()), 2),
        "gold_per_report": round(float(y.sum(1).mean()), 2),
    }


def choose_scale(model, task: str, proba: np.ndarray, y: np.ndarray, rows: np.ndarray) -> float:
    """The grid scale with the best micro-F1 on `rows` (ties: the smallest, the least change)."""
    best, best_f1 = 1.0, -1.0
    for scale in GRID:
        f1 = scores(y[rows], model.decide(proba[rows], float(scale)), model.labels)["micro_f1"]
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(scale), f1
    return best


def cross_validated(model, task: str, proba: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Each report decided at the scale chosen on the other folds' reports."""
    folds = np.arange(len(y)) % FOLDS
    pred = np.zeros_like(y)
    chosen = []
    for fold in range(FOLDS):
        scale = choose_scale(model, task, proba, y, np.flatnonzero(folds != fold))
        chosen.append(scale)
        pred[folds == fold] = model.decide(proba[folds == fold], scale)
    return pred, chosen


def evidence_roles(model, task, reading, texts, labels_given) -> dict[str, int]:
    """Which section roles each given label's evidence came from (and how many items were links)."""
    counts: Counter[str] = Counter()
    for i, text in enumerate(texts):
        sections = document_sections(text)
        for spans in long_documents.evidence(model, reading, i, labels_given[i], 3).values():
            for a, _ in spans:
                counts[next((s.role for s in sections if s.start <= a < s.end), "none")] += 1
    return dict(counts.most_common())


def study(task: str, model, data: dict, config: LongDocumentsConfig) -> dict:
    out = {}
    labels = model.labels
    for name, dataset in data.items():
        y = multi_hot(dataset.labels[task], labels).astype(bool)
        whole = model.decide(model.predict_proba(dataset.texts)).astype(bool)
        unit = replace(config, harm_threshold_scale=1.0, theme_threshold_scale=1.0)
        reading = long_documents.read(model, task, dataset.texts, [True] * len(y), unit)
        by_sections = reading.decided.astype(bool)
        out[name] = {"whole": figures(y, whole, labels), "sections_scale_1": figures(y, by_sections, labels)}
        out[name]["proba"] = reading.scored.proba
        out[name]["y"] = y
        out[name]["reading"] = reading
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.parse_args(argv)
    config = load_section("long_documents", LongDocumentsConfig)
    data = {"synthetic": load_gold(SYNTHETIC), "real": load_gold(REAL)}
    models = resolve("champion")
    report: dict = {"grid": GRID.tolist(), "tasks": {}}
    for task in TASKS:
        model = models[task].classifier
        found = study(task, model, data, config)
        syn, real = found["synthetic"], found["real"]
        cv_pred, cv_scales = cross_validated(model, task, syn["proba"], syn["y"])
        final = choose_scale(model, task, syn["proba"], syn["y"], np.arange(len(syn["y"])))
        real_pred = model.decide(real["proba"], final).astype(bool)
        given = [[model.labels[j] for j in np.flatnonzero(row)] for row in real_pred]
        report["tasks"][task] = {
            "model": models[task].name,
            "synthetic": {
                "whole": syn["whole"],
                "sections_scale_1": syn["sections_scale_1"],
                "sections_cv": figures(syn["y"], cv_pred.astype(bool), model.labels),
                "cv_scales": cv_scales,
            },
            "chosen_scale": final,
            "real": {
                "whole": real["whole"],
                "sections_scale_1": real["sections_scale_1"],
                "sections_chosen": figures(real["y"], real_pred, model.labels),
                "given": given,
                "gold": [[model.labels[j] for j in np.flatnonzero(row)] for row in real["y"]],
                "evidence_roles": evidence_roles(model, task, real["reading"], data["real"].texts, given),
            },
        }
        print(task, json.dumps(report["tasks"][task], indent=1))
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
