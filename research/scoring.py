"""How the recipe searches score a candidate, the way the champion is chosen and never on test."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pipelines.dataset import SplitData
from pipelines.evaluation.scoring import fold_scores, scores
from pipelines.modeling.base import tune_thresholds


def cross_fit(
    train: SplitData, fit: Callable[[np.ndarray, np.ndarray | None], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """(out-of-fold train probabilities, validation probabilities) from `fit(fit_mask, held_mask)`, which
    fits on the train rows in `fit_mask` and scores the rows in `held_mask` (None: the validation split)."""
    oof = np.zeros(train.y.shape)
    for fold in sorted(set(train.folds.tolist()) - {-1}):
        held = train.folds == fold
        oof[held] = fit(~held, held)
    return oof, fit(np.ones(len(train.y), dtype=bool), None)


def search_scores(
    train: SplitData, validation: SplitData, oof: np.ndarray, val: np.ndarray, labels: list[str], frequent: list[str]
) -> dict[str, float]:
    """CV: the train folds' out-of-fold probabilities with thresholds tuned on validation (as the train
    stage tunes them); and validation scored with thresholds tuned on the out-of-fold rows instead."""
    thresholds = tune_thresholds(validation.y, val)
    cv = fold_scores(train.y, (oof >= thresholds).astype(np.int8), train.folds, labels, frequent)
    val_scores = scores(validation.y, (val >= tune_thresholds(train.y, oof)).astype(np.int8), labels, frequent)
    return {
        "cv_micro_f1": cv["micro_f1"],
        "cv_macro_f1": cv["macro_f1"],
        "val_oof_micro_f1": val_scores["micro_f1"],
        "val_oof_macro_f1": val_scores["macro_f1"],
    }


def log_search_runs(results: list[dict], params: tuple[str, ...], name) -> None:
    """One MLflow run per candidate in the `head-search` experiment."""
    import mlflow

    from research.head_search import use_search_experiment

    use_search_experiment()
    for row in results:
        with mlflow.start_run(run_name=name(row)):
            mlflow.log_params({k: row[k] for k in params})
            mlflow.log_metrics({k: v for k, v in row.items() if k.endswith("_f1")})
