"""Fit one model kind on train, tune its thresholds on validation, and cross-validate it on train.

The train stage, `reviewtag refit` and the research searches build models through `build`, so a
search measures the recipe that ships. The test split is not loaded here at all, so nothing about
it can leak into a model or its thresholds. Nothing time-dependent is written into a model
directory: two runs with the same weights write the same files.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines import paths
from pipelines.config import LexiconConfig, load_section
from pipelines.dataset import TaskData, learnable_labels, load_task_data
from pipelines.evaluation.scoring import cv_summary
from pipelines.modeling import registry
from pipelines.modeling.base import CV_PROBA_FILE, ReviewClassifier

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
    (enough training support) and route the rest through the lexicon's rules (kinds/routed.py);
    the lexicon needs no examples and the ensemble's members already cover every label."""
    cls = registry.classifier_class(kind)
    if kind == "lexicon":
        return cls(task, labels, params)
    if kind == "ensemble":
        return cls(task, labels, params, models_dir=models_dir or paths.MODELS)
    learnable = list(labels) if learnable is None else [label for label in labels if label in learnable]
    few_shot = [label for label in labels if label not in learnable]
    if not few_shot:
        return cls(task, labels, params)
    rules = registry.classifier_class("lexicon")(task, few_shot, asdict(load_section("lexicon", LexiconConfig)))
    return registry.spec("routed", role="wrapper").cls(cls(task, learnable, params), rules)


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
) -> ReviewClassifier:
    """Fit, tune on validation, cross-validate (out-of-fold probabilities saved beside the model, so
    the ensemble's CV needs no refitting), save to `out_dir`. Without `data`, the processed dataset
    and its split report's learnable labels are read from their default places."""
    if data is None:
        data, learnable = load_task_data(task, labels="all"), learnable_labels(task)
    train_split, validation = data.splits["train"], data.splits["validation"]
    started = time.perf_counter()
    model = build(kind, task, data.labels, params, learnable, models_dir)
    model.fit(train_split.texts, train_split.y, validation=(validation.texts, validation.y))
    model.tune(validation.texts, validation.y)
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
    if out_dir.exists():
        shutil.rmtree(out_dir)
    model.save(out_dir)
    if oof is not None:
        np.save(out_dir / CV_PROBA_FILE, oof, allow_pickle=False)
    return model
