"""Stage `evaluate`: every trained model on validation and the 2023 test split, side by side.

Writes experiments/metrics.json (DVC metrics), the plots (DVC plots), logs each model to MLflow
and moves the champion alias per task to the best model by cross-validation on train (thresholds
from validation) or, if so configured, by validation. The test split is reported, never used to choose.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import numpy as np

from pipelines import plots
from pipelines.classifiers import load_classifier
from pipelines.classifiers.base import CV_PROBA_FILE, tune_thresholds
from pipelines.config import EvaluateConfig, TrackingConfig, load_section
from pipelines.data import TaskData, load_task_data
from pipelines.evaluation import scores
from pipelines.records import write_json
from pipelines.taxonomy import TASKS

log = logging.getLogger(__name__)
MODELS_DIR = Path("models")
METRICS = Path("experiments/metrics.json")
CHAMPIONS = Path("experiments/champions.json")
PER_LABEL_CSV = Path("experiments/per_label_f1.csv")
PLOTS_DIR = Path("experiments/plots")
EVAL_SPLITS = ("validation", "test")


def cv_summary(cv: dict | None) -> dict:
    if not cv:
        return {}
    out = {m: cv[m]["mean"] for m in ("micro_f1", "macro_f1", "samples_f1")}
    out |= {f"{m}_sd": cv[m]["sd"] for m in ("micro_f1", "macro_f1", "samples_f1")}
    return out | {"folds": cv["folds"]}


def validation_with_oof_thresholds(data: TaskData, oof: np.ndarray, validation_proba: np.ndarray) -> dict | None:
    """The other honest direction: thresholds tuned on the train out-of-fold predictions, applied to
    validation (which then judges thresholds it never set). Reported beside CV, not used to choose.
    None when the saved predictions belong to another train split (a stale model)."""
    train, validation = data.splits["train"], data.splits["validation"]
    if oof.shape != train.y.shape:
        return None
    result = scores(validation.y, validation_proba >= tune_thresholds(train.y, oof), data.labels)
    return {m: result[m] for m in ("micro_f1", "macro_f1", "samples_f1")}


def evaluate_task(task: str, kinds: list[str], skipped: list[dict]) -> tuple[dict, list[Path]]:
    data = load_task_data(task)
    metrics: dict[str, dict] = {}
    test_probas: dict[str, np.ndarray] = {}
    preds: dict[str, np.ndarray] = {}
    for kind in kinds:
        probas: dict[str, np.ndarray] = {}
        predicted: dict[str, np.ndarray] = {}
        model_dir = MODELS_DIR / task / kind
        if not (model_dir / "meta.json").exists():
            skipped.append({"task": task, "model": kind, "reason": f"no trained model at {model_dir}"})
            continue
        model = load_classifier(model_dir)
        if model.labels != data.labels:
            skipped.append({"task": task, "model": kind, "reason": "label vocabulary differs from the dataset's"})
            continue
        metrics[kind] = {}
        for split in EVAL_SPLITS:
            part = data.splits[split]
            probas[split] = model.predict_proba(part.texts)
            predicted[split] = model.predict(part.texts, proba=probas[split])
            metrics[kind][split] = scores(part.y, predicted[split], data.labels)
        test_probas[kind], preds[kind] = probas["test"], predicted["test"]
        if cv := cv_summary(model.meta.extra.get("cv")):
            metrics[kind]["cv"] = cv
        if (oof_file := model_dir / CV_PROBA_FILE).exists():
            oof = np.load(oof_file, allow_pickle=False)
            honest = validation_with_oof_thresholds(data, oof, probas["validation"])
            if honest is None:
                reason = f"{CV_PROBA_FILE} does not match the train split (stale model): no OOF-threshold score"
                skipped.append({"task": task, "model": kind, "reason": reason})
            else:
                metrics[kind]["validation_oof_thresholds"] = honest
    test_y = data.splits["test"].y
    figures = [
        plots.per_label_f1_bars(
            PLOTS_DIR / f"{task}_per_label_f1.png",
            data.labels,
            {k: [m["test"]["per_label"][lab]["f1"] for lab in data.labels] for k, m in metrics.items()},
            f"{task}: per-label F1 on the 2023 test split",
        ),
        plots.pr_curves(
            PLOTS_DIR / f"{task}_precision_recall.png", test_y, test_probas, f"{task}: precision-recall (test)"
        ),
        plots.cooccurrence(
            PLOTS_DIR / f"{task}_cooccurrence.png",
            data.splits["train"].y,
            data.labels,
            f"{task}: label co-occurrence (train)",
        ),
        plots.confusion_grid(
            PLOTS_DIR / f"{task}_confusion.png", test_y, preds, data.labels, f"{task}: per-label outcomes on test"
        ),
    ]
    return metrics, figures


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
        value = result[split][metric]
        if value > best_value + 1e-9:
            best, best_value = kind, value
    return best, f"{split} {metric}"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_section("evaluate", EvaluateConfig)
    tracking_config = load_section("tracking", TrackingConfig)
    skipped: list[dict] = []
    all_metrics: dict[str, dict] = {}
    champions: dict[str, dict] = {}
    figures_by_task: dict[str, list[Path]] = {}
    for task in TASKS:
        all_metrics[task], figures_by_task[task] = evaluate_task(task, config.kinds, skipped)
        kind, basis = choose_champion(all_metrics[task], config.champion_metric, config.champion_split)
        if kind:
            chosen = all_metrics[task][kind]
            champions[task] = {"kind": kind, "basis": basis}
            champions[task] |= {
                f"{split}_{config.champion_metric}": chosen[split][config.champion_metric]
                for split in ("cv", "validation")
                if split in chosen
            }
    write_json(METRICS, all_metrics)
    with open(PER_LABEL_CSV, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["task", "model", "label", "split", "precision", "recall", "f1", "support"])
        for task, by_model in all_metrics.items():
            for kind, by_split in by_model.items():
                for split in EVAL_SPLITS:
                    for label, v in by_split[split]["per_label"].items():
                        writer.writerow([task, kind, label, split, v["precision"], v["recall"], v["f1"], v["support"]])
    _track(all_metrics, champions, figures_by_task, config, tracking_config)
    write_json(CHAMPIONS, {"champions": champions, "skipped": skipped})
    for item in skipped:
        log.warning("evaluate: skipped %s/%s: %s", item["task"], item["model"], item["reason"])
    for task, by_model in all_metrics.items():
        for kind, result in by_model.items():
            cv = result.get("cv", {})
            log.info(
                "%s %-13s cv micro/macro %s  val %.3f/%.3f  test %.3f/%.3f",
                task,
                kind,
                f"{cv['micro_f1']:.3f}/{cv['macro_f1']:.3f}" if cv else "-",
                result["validation"]["micro_f1"],
                result["validation"]["macro_f1"],
                result["test"]["micro_f1"],
                result["test"]["macro_f1"],
            )
    log.info("champions: %s", champions)


def _track(all_metrics, champions, figures_by_task, config: EvaluateConfig, tracking_config: TrackingConfig) -> None:
    from pipelines import tracking

    tracking.configure(tracking_config)
    for task, by_model in all_metrics.items():
        for kind, result in by_model.items():
            split_metrics = {s: result[s] for s in EVAL_SPLITS}
            run = tracking.log_model_run(
                task, kind, MODELS_DIR / task / kind, split_metrics, figures_by_task[task], tracking_config
            )
            log.info(
                "mlflow: %s/%s run %s version %s%s",
                task,
                kind,
                run["run_id"],
                run["version"],
                "" if run["new"] else " (unchanged, not logged again)",
            )
            if task in champions and champions[task]["kind"] == kind:
                champions[task] |= {"run_id": run["run_id"], "version": run["version"]}
                if run["version"]:
                    tracking.set_alias(task, kind, run["version"], config.champion_alias)


if __name__ == "__main__":
    main()
