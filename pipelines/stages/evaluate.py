"""Stage `evaluate`: every trained model on validation and the 2023 test split, with CV on train, side
by side (`pipelines.evaluation.temporal`); MLflow runs and the champion alias. The test split is
reported, never used to choose."""

from __future__ import annotations

import json
import logging

from pipelines.config import EvaluateConfig, TrackingConfig, load_section
from pipelines.evaluation.temporal import champions_of, evaluate_task, track, write_metrics, write_per_label
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling import registry
from pipelines.records import write_json
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(
        __doc__,
        argv,
        "models",
        "split_report",
        "metrics",
        "detail",
        "per_label",
        "plots",
        "champions",
    )
    config = load_section("evaluate", EvaluateConfig)
    unknown = [kind for kind in config.kinds if kind not in registry.kinds()]
    if unknown:
        raise SystemExit(f"params.yaml [evaluate]: unknown kinds {unknown}; expected {registry.kinds()}")
    frequent = json.loads(args.split_report.read_text(encoding="utf-8"))["active_labels"]
    skipped: list[dict] = []
    all_metrics, figures_by_task = {}, {}
    for task in TASKS:
        all_metrics[task], figures_by_task[task] = evaluate_task(
            task, config.kinds, skipped, frequent[task], args.models, args.plots
        )
    champions = champions_of(all_metrics, config)
    write_metrics(all_metrics, args.metrics)
    write_json(args.detail, {"frequent_labels": frequent, "metrics": all_metrics})
    write_per_label(all_metrics, frequent, args.per_label)
    track(all_metrics, champions, figures_by_task, config, load_section("tracking", TrackingConfig), args.models)
    write_json(args.champions, {"champions": champions, "skipped": skipped})
    for item in skipped:
        log.warning("evaluate: skipped %s/%s: %s", item["task"], item["model"], item["reason"])
    for task, by_model in all_metrics.items():
        for kind, result in by_model.items():
            line = "  ".join(
                f"{split} {r['reader']['micro_f1']:.3f}/{r['reader']['macro_f1']:.3f}" for split, r in result.items()
            )
            log.info("%s %-13s reader micro/macro: %s", task, kind, line)
    log.info("champions: %s", champions)


if __name__ == "__main__":
    main()
