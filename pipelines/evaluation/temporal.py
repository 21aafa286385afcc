"""Evaluation on the temporal split: every trained model on validation and the 2023 test split, side by side.

Scores every model over the whole label vocabulary against the reader labels (keyword labels plus
reader corrections; primary) and against the NSPCC keyword labels alone (`kw_*`, beside them).
The evaluate stage writes metrics/<task>/<kind>/<split>.json (DVC metrics: headline figures only),
evaluation.json (everything), per_label.csv and the plots (DVC plots), logs each model to MLflow
and moves the champion alias per task to the best model by cross-validation on
train (thresholds from validation) or, if so configured, by validation. The test split is reported,
never used to choose.
"""

from __future__ import annotations

import csv
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipelines.config import EvaluateConfig, TrackingConfig
from pipelines.dataset import SplitData, TaskData, load_task_data
from pipelines.evaluation import plots
from pipelines.evaluation.scoring import expand, fold_scores, scores
from pipelines.modeling import registry
from pipelines.modeling.base import CV_PROBA_FILE, tune_thresholds
from pipelines.modeling.registry import load_classifier
from pipelines.records import atomic_open, write_json

log = logging.getLogger(__name__)
EVAL_SPLITS = ("validation", "test")


def evaluated_splits(data) -> tuple[str, ...]:
    """Validation and test always; `later` (reviews published after the test years, checked by an
    annotator) as a rolling out-of-time test once it holds a review."""
    later = data.splits.get("later")
    return EVAL_SPLITS + (("later",) if later is not None and len(later.ids) else ())


# in DVC metrics (later: once it holds a review); the rest in evaluation.json
SHORT_SPLIT = {"cv": "cv", "validation": "val", "test": "test", "later": "later"}
TARGETS = ("reader", "keyword")  # reader-corrected labels (primary), NSPCC keyword labels alone


def scorer_of(kind: str) -> Callable[..., dict]:
    """The scorer the kind declared in the registry (the one scorer unless it says otherwise)."""
    return registry.spec(kind).scorer or scores


def both_targets(
    part: SplitData, predicted: np.ndarray, data: TaskData, frequent: list[str], scorer: Callable[..., dict]
) -> dict:
    return {
        "reader": scorer(part.y, predicted, data.labels, frequent),
        "keyword": scorer(part.y_keyword, predicted, data.labels, frequent),
    }


def cross_validation(
    model,
    model_dir: Path,
    data: TaskData,
    frequent: list[str],
    validation_proba: np.ndarray,
    scorer: Callable[..., dict] = scores,
) -> tuple[dict, str | None]:
    """CV on train from the out-of-fold probabilities the train stage saved (thresholds tuned on
    validation), and validation scored with thresholds tuned on those out-of-fold rows instead:
    the two honest views. Empty, with the reason, when there are none or they are stale."""
    oof_file = model_dir / CV_PROBA_FILE
    train, validation = data.splits["train"], data.splits["validation"]
    if not oof_file.exists():
        return {}, None
    oof = np.load(oof_file, allow_pickle=False)
    if oof.shape != (len(train.ids), len(model.labels)):
        return {}, f"{CV_PROBA_FILE} does not match the train split (stale model): no CV score"
    columns = [data.labels.index(label) for label in model.labels]
    out = {}
    predicted = expand(model.decide(oof), model.labels, data.labels)
    out["cv"] = {
        "reader": fold_scores(train.y, predicted, train.folds, data.labels, frequent, scorer),
        "keyword": fold_scores(train.y_keyword, predicted, train.folds, data.labels, frequent, scorer),
    }
    thresholds = tune_thresholds(train.y[:, columns], oof)
    val_pred = (validation_proba >= thresholds).astype(np.int8)
    out["validation_oof_thresholds"] = both_targets(
        validation, expand(val_pred, model.labels, data.labels), data, frequent, scorer
    )
    return out, None


def evaluate_task(
    task: str, kinds: list[str], skipped: list[dict], frequent: list[str], models_dir: Path, plots_dir: Path
) -> tuple[dict, list[Path]]:
    """Every model scored over the whole label vocabulary: labels a model does not predict count as
    missed. Reader labels are primary; the keyword labels are scored beside them."""
    data = load_task_data(task, labels="all")
    metrics: dict[str, dict] = {}
    test_probas: dict[str, np.ndarray] = {}
    preds: dict[str, np.ndarray] = {}
    for kind in kinds:
        model_dir = models_dir / task / kind
        if not (model_dir / "meta.json").exists():
            skipped.append({"task": task, "model": kind, "reason": f"no trained model at {model_dir}"})
            continue
        model = load_classifier(model_dir)
        if not set(model.labels) <= set(data.labels):
            skipped.append({"task": task, "model": kind, "reason": "labels outside the contract vocabulary"})
            continue
        metrics[kind] = {}
        probas = {}
        for split in evaluated_splits(data):
            part = data.splits[split]
            proba = probas[split] = model.predict_proba(part.texts)
            predicted = expand(model.decide(proba), model.labels, data.labels)
            metrics[kind][split] = both_targets(part, predicted, data, frequent, scorer_of(kind))
            if split == "test":
                test_probas[kind], preds[kind] = expand(proba, model.labels, data.labels), predicted
        honest, problem = cross_validation(
            model, model_dir, data, frequent, probas["validation"], scorer_of(model.meta.kind)
        )
        metrics[kind] |= honest
        if problem:
            skipped.append({"task": task, "model": kind, "reason": problem})
    test_y = data.splits["test"].y
    figures = [
        plots.per_label_f1_bars(
            plots_dir / f"{task}_per_label_f1.png",
            data.labels,
            {k: [m["test"]["reader"]["per_label"][lab]["f1"] for lab in data.labels] for k, m in metrics.items()},
            f"{task}: per-label F1 on the 2023 test split (reader labels)",
        ),
        plots.pr_curves(
            plots_dir / f"{task}_precision_recall.png", test_y, test_probas, f"{task}: precision-recall (test, reader)"
        ),
        plots.cooccurrence(
            plots_dir / f"{task}_cooccurrence.png",
            data.splits["train"].y,
            data.labels,
            f"{task}: label co-occurrence (train, reader labels)",
        ),
        plots.confusion_grid(
            plots_dir / f"{task}_confusion.png", test_y, preds, data.labels, f"{task}: per-label outcomes on test"
        ),
    ]
    return metrics, figures


def headline(scores_: dict) -> dict:
    """The few figures `dvc metrics show` prints per file; every file has the same keys, so the
    table stays 120 columns wide (all the rest is in experiments/evaluation.json)."""
    out = {"micro": scores_["micro_f1"], "macro": scores_["macro_f1"], "samples": scores_["samples_f1"]}
    if "micro_f1_sd" in scores_:
        out |= {"micro_sd": scores_["micro_f1_sd"], "macro_sd": scores_["macro_f1_sd"]}
    return out


def write_metrics(all_metrics: dict, metrics_dir: Path) -> None:
    """<metrics_dir>/<task>/<kind>/<split>.json against the reader labels and, beside it,
    <split>_kw.json against the keyword labels alone."""
    if metrics_dir.exists():
        shutil.rmtree(metrics_dir)
    for task, by_kind in all_metrics.items():
        for kind, by_split in by_kind.items():
            for split, result in by_split.items():
                if split not in SHORT_SPLIT:
                    continue
                folder = metrics_dir / task / kind
                write_json(folder / f"{SHORT_SPLIT[split]}.json", headline(result["reader"]))
                write_json(folder / f"{SHORT_SPLIT[split]}_kw.json", headline(result["keyword"]))


def write_per_label(all_metrics: dict, frequent: dict[str, list[str]], path: Path) -> None:
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", "model", "split", "target", "label", "group", "precision", "recall", "f1", "support"])
        for task, by_kind in all_metrics.items():
            for kind, by_split in by_kind.items():
                for split, by_target in by_split.items():
                    for target, result in by_target.items():
                        for label, v in result["per_label"].items():
                            group = "frequent" if label in frequent[task] else "few_shot"
                            writer.writerow(
                                [task, kind, split, target, label, group]
                                + [v["precision"], v["recall"], v["f1"], v["support"]]
                            )


def choose_champion(task_metrics: dict, metric: str, split: str = "cv") -> tuple[str | None, str]:
    """Best kind and the basis it was chosen on; ties go to the simpler model (the order of `kinds`).

    Why cv by default: validation F1 is measured on the very reviews each model's per-label
    thresholds were tuned on, which flatters the flexible models (by up to 0.2 F1 here), while the
    out-of-fold train predictions are scored with thresholds that never saw them. Kinds without CV
    scores cannot win on cv; if none has them, validation decides and the basis says so."""
    if split == "cv" and not any("cv" in result for result in task_metrics.values()):
        split = "validation"
    best, best_value = None, -1.0
    for kind, result in task_metrics.items():
        if split not in result:
            continue
        value = result[split]["reader"][metric]
        if value > best_value + 1e-9:
            best, best_value = kind, value
    return best, f"{split} {metric}"


def champions_of(all_metrics: dict, config: EvaluateConfig) -> dict[str, dict]:
    """Per task: the chosen kind, the basis, and its figures on that basis (machine-independent)."""
    champions: dict[str, dict] = {}
    for task, task_metrics in all_metrics.items():
        kind, basis = choose_champion(task_metrics, config.champion_metric, config.champion_split)
        if kind:
            chosen = task_metrics[kind]
            champions[task] = {"kind": kind, "basis": f"{basis} (reader labels)"}
            champions[task] |= {
                f"{split}_{config.champion_metric}": chosen[split]["reader"][config.champion_metric]
                for split in ("cv", "validation")
                if split in chosen
            }
    return champions


def track(
    all_metrics: dict,
    champions: dict,
    figures_by_task: dict,
    config: EvaluateConfig,
    tracking_config: TrackingConfig,
    models_dir: Path,
) -> None:
    """Log every model to MLflow (once per fingerprint) and move the champion alias per task. The
    registry's run ids and versions stay in the registry: champions.json holds only the choice."""
    from pipelines import tracking

    tracking.configure(tracking_config)
    for task, by_model in all_metrics.items():
        for kind, result in by_model.items():
            split_metrics = {s: result[s]["reader"] for s in (*EVAL_SPLITS, "later", "cv") if s in result}
            run = tracking.log_model_run(
                task, kind, models_dir / task / kind, split_metrics, figures_by_task[task], tracking_config
            )
            log.info(
                "mlflow: %s/%s run %s version %s%s",
                task,
                kind,
                run["run_id"],
                run["version"],
                "" if run["new"] else " (unchanged, not logged again)",
            )
            if task in champions and champions[task]["kind"] == kind and run["version"]:
                held = tracking.get_alias(task, config.champion_alias)
                if config.auto_promote == "always" or held is None:
                    tracking.set_alias(task, kind, run["version"], config.champion_alias)
                elif held[:2] != (kind, run["version"]):
                    log.info(
                        "mlflow: %s-%s version %s is a candidate; @%s stays on %s-%s version %s until promoted "
                        "(reviewtag promote, or the page's Retrain > Promote)",
                        task,
                        kind,
                        run["version"],
                        config.champion_alias,
                        task,
                        *held[:2],
                    )
