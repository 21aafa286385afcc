"""Stage `train@<task>`, one per model kind: fit on train, tune thresholds on validation, K-fold CV
(out-of-fold probabilities saved beside the model, so the ensemble's CV needs no refitting).

`python -m pipelines.stages.train --task harm_type --kind tfidf_linear`. The test split is not
loaded here at all, so nothing about it can leak into a model or its thresholds.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.classifiers import classifier_class
from pipelines.classifiers.base import CV_PROBA_FILE
from pipelines.config import LabelConfig, LexiconConfig, TrainConfig, kind_config, load_section
from pipelines.data import TaskData, learnable_labels, load_task_data
from pipelines.evaluation.metrics import scores
from pipelines.taxonomy import load_taxonomy

log = logging.getLogger(__name__)
MODELS_DIR = Path("models")


def build(
    kind: str,
    task: str,
    labels: list[str],
    params: dict,
    learnable: list[str] | None = None,
    models_dir: Path = MODELS_DIR,
):
    """A model over every label in `labels`. Kinds that learn per label learn the `learnable` ones
    (enough training support) and route the rest through the lexicon's rules (classifiers/routed.py);
    the lexicon needs no examples and the ensemble's members already cover every label."""
    cls = classifier_class(kind)
    if kind == "lexicon":
        return cls(task, labels, {}, lexicon_path=params.get("lexicon", ""))
    if kind == "ensemble":
        return cls(task, labels, params, models_dir=models_dir)
    learnable = list(labels) if learnable is None else [label for label in labels if label in learnable]
    few_shot = [label for label in labels if label not in learnable]
    if not few_shot:
        return cls(task, labels, params)
    from pipelines.classifiers.lexicon import LexiconClassifier
    from pipelines.classifiers.routed import RoutedClassifier

    lexicon_path = load_section("lexicon", LexiconConfig).lexicon
    return RoutedClassifier(cls(task, learnable, params), LexiconClassifier(task, few_shot, {}, lexicon_path))


def cv_scores(y: np.ndarray, folds: np.ndarray, predicted: np.ndarray, labels: list[str]) -> dict:
    """Mean ± sd over the train folds of out-of-fold predictions (validation-tuned thresholds)."""
    results = [
        scores(y[folds == fold], predicted[folds == fold], labels) for fold in sorted(set(folds.tolist()) - {-1})
    ]
    out = {"folds": len(results)}
    for metric in ("micro_f1", "macro_f1", "samples_f1"):
        values = [r[metric] for r in results]
        out[metric] = {"mean": round(float(np.mean(values)), 4), "sd": round(float(np.std(values)), 4)}
    return out


def train(
    kind: str, task: str, params: dict, cv: bool, taxonomy_version: str, out_dir: Path, data: TaskData | None = None
):
    learnable = learnable_labels(task) if data is None else None
    data = data or load_task_data(task, labels="all")
    train_split, validation = data.splits["train"], data.splits["validation"]
    started = time.perf_counter()
    model = build(kind, task, data.labels, params, learnable)
    model.fit(train_split.texts, train_split.y, validation=(validation.texts, validation.y))
    model.tune(validation.texts, validation.y)
    model.meta.taxonomy_version = taxonomy_version
    model.meta.params = params
    model.meta.extra["train_seconds"] = round(time.perf_counter() - started, 2)
    model.meta.extra["n_train"] = len(train_split.texts)
    oof = None
    if cv:
        validation_pair = (validation.texts, validation.y)
        oof = model.out_of_fold_proba(train_split.texts, train_split.y, train_split.folds, validation_pair)
    if oof is not None:
        predicted = (oof >= model.thresholds).astype(np.int8)
        model.meta.extra["cv"] = cv_scores(train_split.y, train_split.folds, predicted, data.labels)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    model.save(out_dir)
    if oof is not None:
        np.save(out_dir / CV_PROBA_FILE, oof, allow_pickle=False)
    return model


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--task", required=True, choices=["harm_type", "learning_theme"])
    parser.add_argument("--kind", required=True)
    args = parser.parse_args(argv)
    params = asdict(kind_config(args.kind))
    label_config = load_section("label", LabelConfig)
    version = load_taxonomy(label_config.taxonomy, label_config.contract).version
    cv = load_section("train", TrainConfig).cross_validate
    model = train(args.kind, args.task, params, cv, version, MODELS_DIR / args.task / args.kind)
    log.info(
        "trained %s/%s in %ss; thresholds %s; cv %s",
        args.task,
        args.kind,
        model.meta.extra["train_seconds"],
        np.round(model.thresholds, 2).tolist(),
        model.meta.extra.get("cv"),
    )


if __name__ == "__main__":
    main()
