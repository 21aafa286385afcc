"""Does the ensemble dilute less when it averages its members' calibrated probabilities?
`python -m research.calibrated_combination [--models DIR]` → experiments/calibrated_combination.json.

The members' raw scores mean different things: the quoted-items kind's logistic regressions are fitted
with balanced class weights, so its raw 0.7 is often a negative (its Platt map reads it as ~0.1), while
the lexicon's 0.5 is one pattern matched. A mean of raw scores lets an inflated member carry a label and
a precise one be averaged away. Candidates, per task:

- `raw`: the shipped mean (each label over the members with a vote of their own on it);
- `calibrated`: the same mean of each member's calibrated probability (`pipelines.evaluation.calibration`).
  Its CV rows are cross-fitted (each fold calibrated by maps fitted on the other folds), so the CV
  figure is not flattered by calibrators fitted on the rows they score.

CV = the train split's out-of-fold rows with thresholds tuned on validation, pooled per label; also
validation with thresholds tuned on the out-of-fold rows, and recall on the rare-harm challenge set
(data/gold/challenge, SYNTHETIC, choosing nothing). The 2023 test split is not read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pipelines.config import TrainConfig, load_section
from pipelines.dataset import load_task_data, multi_hot
from pipelines.evaluation.calibration import calibrate_matrix, cross_fitted_calibration
from pipelines.evaluation.reports import load_gold
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import CV_PROBA_FILE, tune_thresholds
from pipelines.modeling.registry import load_classifier
from research.rare_harms import figures

OUT = Path("experiments/calibrated_combination.json")
CHALLENGE = Path("data/gold/challenge/gold.jsonl")


def task_report(root: Path, task: str) -> dict:
    ensemble = load_classifier(root / task / "ensemble")
    labels = ensemble.labels
    data = load_task_data(task, labels=labels)
    train, validation = data.splits["train"], data.splits["validation"]
    challenge = load_gold(CHALLENGE)
    settings = load_section("train", TrainConfig)
    kinds = list(ensemble.members)
    oof = {k: np.load(root / task / k / CV_PROBA_FILE, allow_pickle=False) for k in kinds}
    val = {k: m.predict_proba(validation.texts) for k, m in ensemble.members.items()}
    chal = {k: m.predict_proba(challenge.texts) for k, m in ensemble.members.items()}
    rows = {"raw": {"oof": oof, "val": val, "chal": chal}, "calibrated": {}}
    rows["calibrated"]["oof"] = {
        k: cross_fitted_calibration(
            train.y, oof[k], train.folds, labels, settings.calibration_methods, settings.calibration_min_positives
        )
        for k in kinds
    }
    for split, parts in (("val", val), ("chal", chal)):
        rows["calibrated"][split] = {
            k: calibrate_matrix(m.meta.extra.get("calibration", {}), labels, parts[k])
            for k, m in ensemble.members.items()
        }
    y_challenge = multi_hot(challenge.labels[task], labels)
    out = {}
    for name, by_split in rows.items():
        combined = {split: ensemble.combine([parts[k] for k in kinds]) for split, parts in by_split.items()}
        thresholds = tune_thresholds(validation.y, combined["val"])
        out[name] = {
            "cv": figures(train.y, (combined["oof"] >= thresholds).astype(np.int8), labels),
            "validation": figures(
                validation.y, (combined["val"] >= tune_thresholds(train.y, combined["oof"])).astype(np.int8), labels
            ),
            "challenge": figures(y_challenge, (combined["chal"] >= thresholds).astype(np.int8), labels),
        }
        print(task, name, {split: out[name][split]["summary"] for split in out[name]})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("models"))
    args = parser.parse_args(argv)
    report = {task: task_report(args.models, task) for task in TASKS if (args.models / task / "ensemble").exists()}
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
