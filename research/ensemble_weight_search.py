"""Should the ensemble weigh its members unequally? `python -m research.ensemble_weight_search` →
experiments/ensemble_weight_search.json and one MLflow run per candidate (experiment `head-search`).

The shipped ensemble averages lexicon, TF-IDF and quoted items with equal weights (`ensemble.weights`).
The members already hold their out-of-fold probabilities on the train split (cv_proba.npy, written by
their train stages) and predict validation cheaply, so every weighting on a small grid is scored exactly
as the champion is chosen (`scoring.search_scores`: CV with validation-tuned thresholds, and validation
with thresholds tuned on the out-of-fold rows), never on test. A weighting is worth shipping only if it
beats equal weights on CV clearly, since 27 candidates on 234 reviews will find some noise to fit.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from pathlib import Path

import numpy as np

from pipelines.config import EnsembleConfig, load_section
from pipelines.dataset import learnable_labels, load_task_data
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import CV_PROBA_FILE, read_meta
from pipelines.modeling.registry import load_classifier
from research.scoring import log_search_runs, search_scores

OUT = Path("experiments/ensemble_weight_search.json")
GRID = (0.5, 1.0, 2.0)
log = logging.getLogger(__name__)


def member_probabilities(task: str, members: list[str], models_dir: Path = Path("models")):
    """The task's data over the members' labels, and each member's out-of-fold train and validation
    probabilities."""
    labels = read_meta(models_dir / task / members[0]).labels
    data = load_task_data(task, labels=labels)
    oof, val = {}, {}
    for kind in members:
        model = load_classifier(models_dir / task / kind)
        if model.labels != labels:
            raise ValueError(f"{task}/{kind}: labels differ from the other members'")
        oof[kind] = np.load(models_dir / task / kind / CV_PROBA_FILE, allow_pickle=False)
        val[kind] = model.predict_proba(data.splits["validation"].texts)
    return data, oof, val


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-mlflow", action="store_true", help=f"only write {OUT}")
    args = parser.parse_args(argv)
    members = load_section("ensemble", EnsembleConfig).members
    results = []
    for task in TASKS:
        data, oof, val = member_probabilities(task, members)
        labels = data.labels
        frequent = [label for label in learnable_labels(task) if label in labels]
        for weights in itertools.product(GRID, repeat=len(members)):
            if max(weights) != 2.0 and weights != (1.0,) * len(members):
                continue  # a grid point and its multiples are one weighting: keep equal weights and max = 2
            w = np.asarray(weights) / sum(weights)
            o = sum(wk * oof[kind] for wk, kind in zip(w, members, strict=True))
            v = sum(wk * val[kind] for wk, kind in zip(w, members, strict=True))
            scores = search_scores(data.splits["train"], data.splits["validation"], o, v, labels, frequent)
            results.append({"task": task, "weights": dict(zip(members, weights, strict=True)), **scores})
            log.info("%s", results[-1])
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_mlflow:
        for row in results:
            row["weights_text"] = " ".join(f"{k}={v}" for k, v in row["weights"].items())
        log_search_runs(results, ("task", "weights_text"), lambda row: f"{row['task']}: ensemble {row['weights_text']}")


if __name__ == "__main__":
    main()
