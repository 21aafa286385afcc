"""Refit a chosen recipe on every labelled year, for tagging the reviews that come after 2023.

The temporal split judges a recipe (kind + parameters + thresholds): its test figures say how well a
model trained on ≤ 2022 tags 2023. Once the recipe is chosen, the 2023 reviews are better used as
training data, so `reviewtag refit` fits the same recipe on train + validation + test. Nothing is left
to tune thresholds on, so each label keeps the threshold the recipe tuned on validation (a label the
recipe did not have keeps 0.5), and nothing is left out of fold to calibrate on, so each label keeps the
recipe's calibrator too (fitted on the recipe's out-of-fold scores; a label without one: identity),
and with it the recipe's calibrated thresholds. The refit has no test figures of its own; it is logged to MLflow as a
new version of the same registered model, tagged with the recipe's run id, whose figures describe it.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np

from pipelines import paths
from pipelines.dataset import TaskData
from pipelines.modeling.base import ReviewClassifier, read_meta
from pipelines.modeling.training import build

log = logging.getLogger(__name__)
LABELLED_SPLITS = ("train", "validation", "test", "later")  # later: checked reviews after the test years


def pooled(data: TaskData) -> tuple[list[str], np.ndarray]:
    """Texts and reader labels of every labelled review."""
    parts = [data.splits[name] for name in LABELLED_SPLITS if name in data.splits]
    return [text for part in parts for text in part.texts], np.vstack([part.y for part in parts])


def refit_kind(
    task: str, kind: str, data: TaskData, min_support: int, recipe_root: Path, out_root: Path
) -> ReviewClassifier:
    """One kind refit into `out_root/<task>/<kind>` (an ensemble needs its members refit there first)."""
    recipe = read_meta(recipe_root / task / kind)  # its parameters and thresholds; no weights needed
    texts, y = pooled(data)
    support = y.sum(axis=0)
    learnable = [label for label, n in zip(data.labels, support, strict=True) if n >= min_support]
    model = build(kind, task, data.labels, dict(recipe.params), learnable, models_dir=out_root)
    model.fit(texts, y)
    tuned = dict(zip(recipe.labels, recipe.thresholds, strict=True))
    model.meta.thresholds = [float(tuned.get(label, 0.5)) for label in model.labels]
    points = recipe.extra.get("operating_points", {})
    model.meta.extra["operating_points"] = {
        name: [float(dict(zip(recipe.labels, values, strict=True)).get(label, 0.5)) for label in model.labels]
        for name, values in points.items()
    }
    model.meta.extra["default_operating_point"] = recipe.extra.get("default_operating_point", "balanced")
    calibration = recipe.extra.get("calibration", {})
    model.meta.extra["calibration"] = {label: calibration.get(label, {"method": "identity"}) for label in model.labels}
    model.meta.taxonomy_version = recipe.taxonomy_version
    model.meta.params = recipe.params
    model.meta.extra.update(
        {
            "refit_of": f"{task}/{kind}",
            "refit_splits": [name for name in LABELLED_SPLITS if name in data.splits],
            "n_train": len(texts),
            "thresholds_from": "the recipe's validation-tuned thresholds",
            "calibration_from": "the recipe's calibrators, fitted on its train out-of-fold scores",
        }
    )
    target = out_root / task / kind
    if target.exists():
        shutil.rmtree(target)
    model.save(target)
    return model


def refit(
    task: str,
    kind: str,
    data: TaskData,
    min_support: int,
    recipe_root: Path | None = None,
    out_root: Path | None = None,
) -> Path:
    """Refit `kind` (and, for an ensemble, each of its members first). Returns the model directory."""
    recipe_root = recipe_root or paths.resolve(paths.MODELS)
    out_root = out_root or paths.resolve(paths.REFIT)
    members = list(read_meta(recipe_root / task / kind).params.get("members", [])) if kind == "ensemble" else []
    for name in [*members, kind]:
        model = refit_kind(task, name, data, min_support, recipe_root, out_root)
        extra = model.meta.extra
        log.info("refit %s/%s on %d reviews", task, name, extra["n_train"])
    return out_root / task / kind


def register(task: str, kind: str, model_dir: Path, config) -> dict:
    """Log the refit as a new version of `<task>-<kind>`, linked to the recipe's run."""
    from pipelines import tracking

    tracking.configure(config)
    recipe_run = tracking.recipe_run(task, kind) or ""
    tags = {tracking.REFIT_TAG: "train+validation+test", "reviewtag.recipe_run_id": recipe_run or "unknown"}
    return tracking.log_model_run(task, kind, model_dir, {}, [], config, tags=tags) | {"recipe_run_id": recipe_run}
