"""Fit one model kind on train, tune its thresholds on validation, cross-validate it on train, and
calibrate each label's scores on the out-of-fold probabilities CV leaves (pipelines.evaluation.calibration).

The train stage, `reviewtag refit` and the research searches build models through `build`, so a
search measures the recipe that ships. The test split is not loaded here at all, so nothing about
it can leak into a model or its thresholds. Nothing time-dependent is written into a model
directory: two runs with the same weights write the same files.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines import paths
from pipelines.config import LexiconConfig, TrainConfig, load_section
from pipelines.dataset import TaskData, learnable_labels, load_task_data
from pipelines.evaluation.calibration import (
    calibration_summary,
    cross_fitted_calibration,
    fit_calibration,
    raw_and_calibrated,
)
from pipelines.evaluation.plots import reliability_diagram
from pipelines.evaluation.scoring import cv_summary, expected_calibration_error, reliability_bins
from pipelines.modeling import registry
from pipelines.modeling.base import CV_PROBA_FILE, HAND_TAUGHT, OPERATING_POINTS, ReviewClassifier

log = logging.getLogger(__name__)


def build(
    kind: str,
    task: str,
    labels: list[str],
    params: dict,
    learnable: list[str] | None = None,
    models_dir: Path | None = None,
) -> ReviewClassifier:
    """A model over every label in `labels`. Kinds that learn per label learn the `learnable` ones
    (enough training support, or enough examples the kind is taught apart from reviews:
    `taught_without_reviews`) and route the rest through the lexicon's rules (kinds/routed.py);
    the lexicon needs no examples and the ensemble's members already cover every label."""
    cls = registry.classifier_class(kind)
    if kind == "lexicon":
        return cls(task, labels, params)
    if kind == "ensemble":
        return cls(task, labels, params, models_dir=models_dir or paths.MODELS)
    supported = list(labels) if learnable is None else [label for label in labels if label in learnable]
    taught = (
        [] if learnable is None else sorted(cls.taught_without_reviews(task, params) & set(labels) - set(supported))
    )
    learned = sorted([*supported, *taught])
    model = cls(task, learned, params)
    if taught:  # the labels it learns only thanks to hand-written items (decided once, not per CV fold)
        model.meta.extra[HAND_TAUGHT] = taught
    few_shot = [label for label in labels if label not in learned]
    if not few_shot:
        return model
    rules = registry.classifier_class("lexicon")(task, few_shot, asdict(load_section("lexicon", LexiconConfig)))
    return registry.spec("routed", role="wrapper").cls(model, rules)


def required_kinds(kind: str, params: dict) -> list[str]:
    """The registered names whose code training `kind` runs: the kind, the routed wrapper and its
    lexicon rules for a kind that learns per label, an ensemble's members. The train stage's DVC
    deps list these kinds' modules (checked by tests/test_stage_deps.py)."""
    if kind == "lexicon":
        return ["lexicon"]
    if kind == "ensemble":
        members = list(params.get("members", []))
        return sorted({kind, *members, *(["routed", "lexicon"] if set(members) - {"lexicon", "ensemble"} else [])})
    return sorted({kind, "routed", "lexicon"})


def train(
    kind: str,
    task: str,
    params: dict,
    cv: bool,
    taxonomy_version: str,
    out_dir: Path,
    data: TaskData | None = None,
    learnable: list[str] | None = None,
    models_dir: Path | None = None,
    settings: TrainConfig | None = None,
    calibration_dir: Path | None = None,
) -> ReviewClassifier:
    """Fit, tune on validation, cross-validate (out-of-fold probabilities saved beside the model, so
    the ensemble's CV needs no refitting), calibrate on those probabilities, save to `out_dir`.
    Without `data`, the processed dataset and its split report's learnable labels are read from their
    default places; without `settings`, params.yaml's train section. With `calibration_dir`, the
    calibration figures (ECE before and after, CV and validation) and the reliability diagram go there."""
    if data is None:
        data, learnable = load_task_data(task, labels="all"), learnable_labels(task)
    settings = settings or load_section("train", TrainConfig)
    train_split, validation = data.splits["train"], data.splits["validation"]
    started = time.perf_counter()
    model = build(kind, task, data.labels, params, learnable, models_dir)
    model.fit(train_split.texts, train_split.y, validation=(validation.texts, validation.y))
    model.tune(validation.texts, validation.y)
    model.meta.extra["default_operating_point"] = settings.default_operating_points.get(task, "balanced")
    model.meta.taxonomy_version = taxonomy_version
    model.meta.params = params
    model.meta.extra["n_train"] = len(train_split.texts)
    log.info("fitted %s/%s in %.1fs", task, kind, time.perf_counter() - started)
    oof = None
    if cv:
        validation_pair = (validation.texts, validation.y)
        oof = model.out_of_fold_proba(train_split.texts, train_split.y, train_split.folds, validation_pair)
    if oof is not None:
        predicted = model.decide(oof)
        model.meta.extra["cv"] = cv_summary(train_split.y, predicted, train_split.folds, data.labels)
        model.meta.extra["calibration"] = fit_calibration(
            train_split.y,
            oof,
            train_split.folds,
            model.labels,
            settings.calibration_methods,
            settings.calibration_min_positives,
        )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    model.save(out_dir)
    if oof is not None:
        np.save(out_dir / CV_PROBA_FILE, oof, allow_pickle=False)
    if calibration_dir is not None:
        write_calibration_report(calibration_dir, model, data, oof, settings)
    return model


CALIBRATION_FILE = "calibration.json"
RELIABILITY_FILE = "reliability.png"


def _decisions_unchanged(model: ReviewClassifier, proba: np.ndarray) -> bool:
    """Whether calibrated score >= calibrated threshold gives every raw decision, at every operating point."""
    calibrated = model.calibrate(proba)
    return all(
        np.array_equal(calibrated >= model.calibrated_thresholds(point), model.decide(proba, operating_point=point) > 0)
        for point in OPERATING_POINTS
    )


def write_calibration_report(
    out_dir: Path, model: ReviewClassifier, data: TaskData, oof: np.ndarray | None, settings: TrainConfig
) -> None:
    """`calibration.json` (pooled and mean per-label ECE, log loss and Brier, raw vs calibrated, on the
    train split's out-of-fold rows and on validation) and `reliability.png` beside it. The CV figures
    of the calibrated scores come from calibrators fitted on the other folds (choice included), so
    they are as honest as the raw ones; validation never fitted a calibrator (it tuned thresholds).
    Without CV there is nothing to calibrate on: both columns show the raw scores."""
    bins, labels = settings.calibration_bins, model.labels
    validation = data.splits["validation"]
    val_proba = model.predict_proba(validation.texts)
    report: dict = {
        "bins": bins,
        "calibrated_on": "train out-of-fold probabilities" if oof is not None else "nothing (no CV): identity",
        "methods": calibration_summary(model.calibration),
        "validation": raw_and_calibrated(validation.y, val_proba, model.calibrate(val_proba), labels, bins),
    }
    panels = {"validation": (validation.y, val_proba, model.calibrate(val_proba))}
    checks = {"validation": _decisions_unchanged(model, val_proba)}
    if oof is not None:
        train_split = data.splits["train"]
        rows = train_split.folds >= 0
        honest = cross_fitted_calibration(
            train_split.y,
            oof,
            train_split.folds,
            labels,
            settings.calibration_methods,
            settings.calibration_min_positives,
        )
        y_cv, raw_cv, calibrated_cv = train_split.y[rows], oof[rows], honest[rows]
        report["cv"] = raw_and_calibrated(y_cv, raw_cv, calibrated_cv, labels, bins)
        panels = {"CV (out-of-fold)": (y_cv, raw_cv, calibrated_cv)} | panels
        checks["cv"] = _decisions_unchanged(model, oof)
    report["decisions_unchanged"] = checks
    report["thresholds"] = {
        label: {"raw": round(float(raw), 4), "calibrated": round(float(calibrated), 4)}
        for label, raw, calibrated in zip(labels, model.thresholds, model.calibrated_thresholds(), strict=True)
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / CALIBRATION_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    curves = {
        name: {
            f"raw (ECE {expected_calibration_error(y, raw, bins):.3f})": reliability_bins(y, raw, bins),
            f"calibrated (ECE {expected_calibration_error(y, calibrated, bins):.3f})": reliability_bins(
                y, calibrated, bins
            ),
        }
        for name, (y, raw, calibrated) in panels.items()
    }
    title = f"{model.meta.task} / {model.kind}: reliability over every label, {bins} equal-width bins"
    reliability_diagram(out_dir / RELIABILITY_FILE, curves, title)
