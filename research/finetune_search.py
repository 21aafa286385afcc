"""Full fine-tuning against the frozen encoder: `python -m research.finetune_search [--epochs 4]` →
experiments/finetune_search.json and one MLflow run per task (experiment `head-search`).

Why LP-FT: a fine-tune from a random head (the issue's prototype) predicted almost nothing for 12
epochs; starting from the trained frozen-encoder head (linear probe, then fine-tune: Kumar et al.,
2022) is the usual cure. An epoch costs about a minute per task on 2 cores, and cross-validating it
would cost five, so this is a measurement rather than a pipeline option. The frozen probe and every
fine-tuned epoch are scored alike: on validation with thresholds tuned there (as the pipeline's
validation column), alone and averaged with the lexicon and TF-IDF models under models/<task>.
Never on the test split.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data
from pipelines.evaluation.scoring import scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import tune_thresholds

OUT = Path("experiments/finetune_search.json")
log = logging.getLogger(__name__)


def _validation_scores(y: np.ndarray, proba: np.ndarray, others: list[np.ndarray]) -> dict:
    out = {}
    for name, p in (("alone", proba), ("with_baselines", np.mean([proba, *others], axis=0) if others else None)):
        if p is not None:
            result = scores(y, p >= tune_thresholds(y, p), [""] * y.shape[1])
            out |= {f"{name}_micro_f1": result["micro_f1"], f"{name}_macro_f1": result["macro_f1"]}
    return out


def finetune(task: str, epochs: int, encoder_lr: float, head_lr: float, batch_size: int) -> list[dict]:
    import torch
    from torch import nn

    from pipelines.modeling.heads import head_proba, pool, pos_weight
    from pipelines.modeling.kinds.transformer import TransformerClassifier
    from pipelines.modeling.registry import kind_config, load_classifier

    data = load_task_data(task)
    train, val = data.splits["train"], data.splits["validation"]
    others = [
        load_classifier(Path("models") / task / kind).predict_proba(val.texts)
        for kind in ("lexicon", "tfidf_linear")
        if (Path("models") / task / kind / "meta.json").exists()
    ]
    params = asdict(kind_config("transformer")) | {"quantize_int8": False}  # gradients need the fp32 encoder
    probe = TransformerClassifier(task, data.labels, params).fit(train.texts, train.y, validation=(val.texts, val.y))
    rows = [
        {
            "task": task,
            "model": "frozen probe",
            "epoch": 0,
            **_validation_scores(val.y, probe.predict_proba(val.texts), others),
        }
    ]
    encoder, head = probe.encoder, copy.deepcopy(probe.head)
    shape = (probe.config.stride, probe.config.max_windows)
    windows, owner = encoder.windows_of(train.texts, *shape)
    val_windows, val_owner = encoder.windows_of(val.texts, *shape)
    target = torch.tensor(train.y[owner], dtype=torch.float32)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight(target, probe.config.max_pos_weight))
    model = encoder.fp32_model
    optimizer = torch.optim.AdamW(
        [{"params": model.parameters(), "lr": encoder_lr}, {"params": head.parameters(), "lr": head_lr}],
        weight_decay=0.01,
    )
    steps = epochs * -(-len(windows) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / max(1, 0.1 * steps)) * max(0.0, (steps - s) / steps)
    )
    generator = torch.Generator().manual_seed(probe.config.seed)
    torch.manual_seed(probe.config.seed)  # dropout
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        for batch in torch.randperm(len(windows), generator=generator).split(batch_size):
            loss = loss_fn(head(encoder.embed(model, [windows[i] for i in batch])), target[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        window_proba = head_proba(head, encoder.embed_windows(val_windows))
        proba = pool(window_proba, val_owner, len(val.texts), probe.config.aggregation)
        row = {"task": task, "model": "LP-FT", "epoch": epoch, "seconds": round(time.perf_counter() - started, 1)}
        rows.append(row | _validation_scores(val.y, proba, others))
        log.info("%s", rows[-1])
    return rows


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--encoder-lr", type=float, default=2e-5)
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-mlflow", action="store_true", help="only write experiments/finetune_search.json")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    rows = [
        row for task in TASKS for row in finetune(task, args.epochs, args.encoder_lr, args.head_lr, args.batch_size)
    ]
    OUT.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    if not args.no_mlflow:
        import mlflow

        from research.head_search import use_search_experiment

        use_search_experiment()
        for task in TASKS:
            with mlflow.start_run(run_name=f"{task}: LP-FT, encoder lr {args.encoder_lr}"):
                mlflow.log_params({"task": task, "features": "LP-FT"} | vars(args))
                for row in (r for r in rows if r["task"] == task):
                    metrics = {k: v for k, v in row.items() if k.endswith("_f1")}
                    mlflow.log_metrics(metrics, step=row["epoch"])


if __name__ == "__main__":
    main()
