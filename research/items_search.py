"""Recipe search for the `items` kind: `python -m research.items_search` →
experiments/items_search.json and one MLflow run per candidate (experiment `head-search`).

Candidates differ in how item probabilities are pooled into a review's (max, noisy-OR, mean of the
top two) and in how strongly the head is held to the label-description prior. Each is scored like
the champion is chosen, never on the test split: 5-fold out-of-fold predictions on train against
the reader labels over the whole vocabulary (labels the model does not learn count as missed), with
thresholds tuned on validation; and validation scored with thresholds tuned on the out-of-fold rows.
The encoder runs once: every candidate shares the item embeddings.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data
from pipelines.evaluation.scoring import expand, fold_scores, scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import tune_thresholds
from research.head_search import use_search_experiment

OUT = Path("experiments/items_search.json")
log = logging.getLogger(__name__)
CANDIDATES = [
    {"pooling": pooling, "prior_decay": decay, "prior_strength": strength}
    for pooling in ("max", "noisy_or", "mean_top2")
    for decay, strength in ((0.001, 10.0), (0.01, 10.0), (0.0, 0.0))
]


def score_candidate(task: str, params: dict, encoder, cache) -> dict:
    from research.items_kind import ItemsClassifier

    data, everything = load_task_data(task), load_task_data(task, labels="all")
    frequent = data.labels
    train, validation = data.splits["train"], data.splits["validation"]
    model = ItemsClassifier(task, data.labels, params, encoder=encoder, cache=cache)  # items encoded once
    started = time.perf_counter()
    model.fit(train.texts, train.y, validation=(validation.texts, validation.y))
    model.tune(validation.texts, validation.y)
    oof = model.out_of_fold_proba(train.texts, train.y, train.folds, (validation.texts, validation.y))
    full_train, full_val = everything.splits["train"], everything.splits["validation"]
    cv = fold_scores(
        full_train.y,
        expand((oof >= model.thresholds).astype(np.int8), data.labels, everything.labels),
        full_train.folds,
        everything.labels,
        frequent,
    )
    oof_thresholds = tune_thresholds(train.y, oof)
    val_pred = expand(
        (model.predict_proba(validation.texts) >= oof_thresholds).astype(np.int8), data.labels, everything.labels
    )
    val = scores(full_val.y, val_pred, everything.labels, frequent)
    return {
        "task": task,
        **{k: params[k] for k in ("pooling", "prior_decay", "prior_strength")},
        "cv_micro_f1": cv["micro_f1"],
        "cv_macro_f1": cv["macro_f1"],
        "val_oof_micro_f1": val["micro_f1"],
        "val_oof_macro_f1": val["macro_f1"],
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    from pipelines.config import default_base_model
    from pipelines.modeling.encoders import EmbeddingCache, FrozenEncoder
    from research.items_kind import ItemsConfig

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-mlflow", action="store_true", help="only write experiments/items_search.json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    base = asdict(ItemsConfig())  # the settings params.yaml's `items` section had
    base["base_model"] = base["base_model"] or default_base_model()
    encoder, cache = FrozenEncoder(base["base_model"], ItemsConfig(**base)), EmbeddingCache()
    results = []
    for task in TASKS:
        for candidate in CANDIDATES:
            results.append(score_candidate(task, base | candidate, encoder, cache))
            log.info("%s", results[-1])
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_mlflow:
        import mlflow

        use_search_experiment()
        for row in results:
            name = f"{row['task']}: items {row['pooling']} prior {row['prior_strength']}/{row['prior_decay']}"
            with mlflow.start_run(run_name=name):
                mlflow.log_params({k: row[k] for k in ("task", "pooling", "prior_decay", "prior_strength")})
                mlflow.log_metrics({k: v for k, v in row.items() if k.endswith("_f1")})


if __name__ == "__main__":
    main()
