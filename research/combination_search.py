"""Per-label combination of the ensemble's members, measured: `python -m research.combination_search` →
experiments/combination_search.json.

A plain mean of the members' probabilities dilutes a confident member: a care leaver who "took his own
life" matches the lexicon, but the mean of three members falls below the threshold. Candidates per
label: the shipped combination (the mean over the members with a vote of their own; noisy-OR of the
rules and the learned members for the few-shot labels), the plain mean, max, noisy-OR of all members,
noisy-OR of the lexicon with the mean of the others (`rule_or_mean`), and each member alone. Scored the way
the champion is chosen: train out-of-fold probabilities (the members' cv_proba.npy) with thresholds
tuned on validation. The per-label choice is nested (chosen on the other four folds, scored on the
fifth), so the CV figure of "per label" is not flattered by its own choice. Reports which member or
rule each label would take. Nothing ships from here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data
from pipelines.evaluation.scoring import fold_scores, per_label_f1
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import CV_PROBA_FILE, tune_thresholds
from pipelines.modeling.registry import load_classifier

OUT = Path("experiments/combination_search.json")


def candidates(parts: dict[str, np.ndarray], ensemble) -> dict[str, np.ndarray]:
    stacked = np.stack(list(parts.values()))
    learned = np.mean([p for kind, p in parts.items() if kind != "lexicon"], axis=0)
    out = {
        "shipped": ensemble.combine(list(parts.values())),
        "mean": stacked.mean(0),
        "max": stacked.max(0),
        "noisy_or": 1 - np.prod(1 - stacked, axis=0),
        "rule_or_mean": 1 - (1 - parts["lexicon"]) * (1 - learned),
    }
    return out | {f"{name} alone": proba for name, proba in parts.items()}


def main() -> None:
    report = {}
    for task in TASKS:
        ensemble = load_classifier(Path("models") / task / "ensemble")
        data = load_task_data(task, labels=ensemble.labels)
        train, validation = data.splits["train"], data.splits["validation"]
        oof = {k: np.load(Path("models") / task / k / CV_PROBA_FILE, allow_pickle=False) for k in ensemble.members}
        val = {k: m.predict_proba(validation.texts) for k, m in ensemble.members.items()}
        oof_c, val_c = candidates(oof, ensemble), candidates(val, ensemble)
        decided = {}
        for name in oof_c:
            thresholds = tune_thresholds(validation.y, val_c[name])
            decided[name] = (oof_c[name] >= thresholds).astype(np.int8)
        folds = train.folds
        nested = np.zeros_like(train.y)
        chosen: dict[str, list[str]] = {label: [] for label in ensemble.labels}
        for fold in sorted(set(folds.tolist()) - {-1}):
            fit, held = folds != fold, folds == fold
            f1 = {name: per_label_f1(train.y[fit], pred[fit]) for name, pred in decided.items()}
            for j, label in enumerate(ensemble.labels):
                best = max(f1, key=lambda name, j=j: (f1[name][j], name == "shipped"))  # ties keep the shipped
                chosen[label].append(best)
                nested[held, j] = decided[best][held, j]
        scored = {name: fold_scores(train.y, pred, folds, ensemble.labels) for name, pred in decided.items()}
        scored["per label (nested)"] = fold_scores(train.y, nested, folds, ensemble.labels)
        report[task] = {
            "cv": {name: {"micro_f1": s["micro_f1"], "macro_f1": s["macro_f1"]} for name, s in scored.items()},
            "per_label_choice": chosen,
        }
        print(task, json.dumps(report[task]["cv"]))
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
