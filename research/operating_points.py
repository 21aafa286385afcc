"""The champion at each operating point: `python -m research.operating_points` → experiments/operating_points.json.

Thresholds of every operating point are tuned on validation (balanced F1, recall-weighted F2,
precision-weighted F0.5) and saved with the model; nothing here tunes anything. Reported: 2023 test
micro-F1, precision and recall per task (the test split judges, never chooses), and on the rare-harm
challenge set (data/gold/challenge, SYNTHETIC, choosing nothing) each harm's recall with its support.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data, multi_hot
from pipelines.evaluation.reports import load_gold
from pipelines.evaluation.scoring import micro_precision_recall, scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import OPERATING_POINTS
from pipelines.modeling.resolve import resolve

OUT = Path("experiments/operating_points.json")
CHALLENGE = Path("data/gold/challenge/gold.jsonl")


def summary(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    precision, recall = micro_precision_recall(y, pred)
    return {
        "micro_f1": scores(y, pred, labels)["micro_f1"],
        "precision": round(precision, 3),
        "recall": round(recall, 3),
    }


def main() -> None:
    models = resolve("champion")
    challenge = load_gold(CHALLENGE)
    out: dict = {}
    for task in TASKS:
        model = models[task].classifier
        test = load_task_data(task, labels=model.labels).splits["test"]
        test_proba = model.predict_proba(test.texts)
        y_challenge = multi_hot(challenge.labels[task], model.labels)
        challenge_proba = model.predict_proba(challenge.texts)
        out[task] = {}
        for point in OPERATING_POINTS:
            test_pred = model.decide(test_proba, operating_point=point)
            challenge_pred = model.decide(challenge_proba, operating_point=point)
            per_label = scores(y_challenge, challenge_pred, model.labels)["per_label"]
            out[task][point] = {
                "test_2023": summary(test.y, test_pred, model.labels),
                "challenge": summary(y_challenge, challenge_pred, model.labels),
                "challenge_recall": {
                    label: {"recall": v["recall"], "support": v["support"]}
                    for label, v in per_label.items()
                    if v["support"]
                },
            }
        print(
            task, json.dumps({p: {k: v for k, v in r.items() if k != "challenge_recall"} for p, r in out[task].items()})
        )
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
