"""Stage `train_<kind>@<task>`: one model kind fitted on train, thresholds tuned on validation, K-fold
CV on train, per-label calibration on the out-of-fold probabilities (`pipelines.modeling.training`),
with its ECE and reliability diagram written to `--calibration`.

`python -m pipelines.stages.train --task harm_type --kind tfidf_linear --out models/harm_type/tfidf_linear
 --calibration experiments/calibration/harm_type/tfidf_linear` (plus --dataset and --split-report)
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.config import LabelConfig, TrainConfig, load_section
from pipelines.dataset import learnable_labels, load_task_data
from pipelines.labels.taxonomy import TASKS, load_taxonomy
from pipelines.modeling import registry
from pipelines.modeling.training import train
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(
        __doc__,
        argv,
        "dataset",
        "split_report",
        task=dict(required=True, choices=TASKS),
        kind=dict(required=True, help="a registered model kind (pipelines/modeling/kinds/)"),
        models=dict(type=Path, help="trained models (an ensemble's members are read from there)"),
        out=dict(required=True, type=Path, help="the model directory (a DVC out)"),
        calibration=dict(required=True, type=Path, help="calibration.json and reliability.png (DVC metrics, plots)"),
    )
    data = load_task_data(args.task, args.dataset, args.split_report, labels="all")
    learnable = learnable_labels(args.task, args.split_report)
    params = asdict(registry.kind_config(args.kind))
    label_config = load_section("label", LabelConfig)
    version = load_taxonomy(label_config.taxonomy, label_config.contract).version
    settings = load_section("train", TrainConfig)
    model = train(
        args.kind,
        args.task,
        params,
        settings.cross_validate,
        version,
        args.out,
        data,
        learnable,
        args.models,
        settings,
        args.calibration,
    )
    log.info(
        "trained %s/%s; thresholds %s; cv %s",
        args.task,
        args.kind,
        np.round(model.thresholds, 2).tolist(),
        model.meta.extra.get("cv"),
    )


if __name__ == "__main__":
    main()
