"""Raw vs calibrated scores of the trained models: `python -m research.calibration [--figures DIR]`
→ experiments/calibration.json (and per task/kind `calibration.json` + `reliability.png` under DIR).

The train stage fits each label's calibrator on the train split's out-of-fold probabilities and writes
these figures itself. This script answers the same question for the models already in models/ without
retraining them (so without `dvc repro`): it reads each model's saved out-of-fold probabilities
(cv_proba.npy), fits the calibrators exactly as the train stage does (in memory: nothing under models/
is written), scores validation, and calls the train stage's own report writer. Nothing here reads the
2023 test split; the calibrators are chosen on CV alone.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pipelines.config import TrainConfig, load_section
from pipelines.dataset import load_task_data
from pipelines.evaluation.calibration import fit_calibration
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import CV_PROBA_FILE
from pipelines.modeling.registry import load_classifier
from pipelines.modeling.training import CALIBRATION_FILE, write_calibration_report

OUT = Path("experiments/calibration.json")
KINDS = ("lexicon", "tfidf_linear", "transformer", "quoted_items", "ensemble")


def one_model(task: str, kind: str, figures: Path, settings: TrainConfig) -> dict:
    """The train stage's calibration report for one trained model, from its saved CV probabilities."""
    directory = Path("models") / task / kind
    model = load_classifier(directory)
    data = load_task_data(task, labels=model.labels)
    train = data.splits["train"]
    oof = np.load(directory / CV_PROBA_FILE, allow_pickle=False)
    model.meta.extra["calibration"] = fit_calibration(
        train.y, oof, train.folds, model.labels, settings.calibration_methods, settings.calibration_min_positives
    )
    write_calibration_report(figures / task / kind, model, data, oof, settings)
    return json.loads((figures / task / kind / CALIBRATION_FILE).read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figures", type=Path, default=Path("/tmp/h3/calibration"))
    parser.add_argument("--kinds", nargs="*", default=list(KINDS))
    args = parser.parse_args(argv)
    settings = load_section("train", TrainConfig)
    out: dict = {"bins": settings.calibration_bins, "tasks": {}}
    for task in TASKS:
        out["tasks"][task] = {}
        for kind in args.kinds:
            report = one_model(task, kind, args.figures, settings)
            out["tasks"][task][kind] = {key: report[key] for key in ("methods", "decisions_unchanged", "thresholds")}
            for split in ("cv", "validation"):
                for stage in ("raw", "calibrated"):
                    figures = report[split][stage]
                    out["tasks"][task][kind][f"{split}_{stage}"] = {
                        key: figures[key] for key in ("ece", "ece_mean_per_label", "log_loss", "brier")
                    }
                    print(
                        f"{task:15s} {kind:13s} {split:10s} {stage:10s} ECE {figures['ece']:.4f} "
                        f"mean per-label ECE {figures['ece_mean_per_label']:.4f} log loss {figures['log_loss']:.4f}"
                    )
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
