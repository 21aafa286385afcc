"""A retrain on a tiny configuration, run by the browser test in place of `dvc repro`: what the train and
evaluate stages do to the models and the registry, in seconds. Each task's tfidf_linear is fitted on the
dataset's train and validation splits (a larger sample than the champion saw), its md5 is recorded in
dvc.lock, and it is logged to MLflow as a new registered version (the evaluate stage's part).

Run as a file (`python tests/retrain_tiny.py`) in the project named by REVIEWTAG_ROOT."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from tests.test_retrain import fit_tfidf, write_lock  # noqa: E402

METRICS = {"validation": {"micro_f1": 0.0, "macro_f1": 0.0, "samples_f1": 0.0, "per_label": {}}}


def main() -> None:
    from pipelines import paths, tracking
    from pipelines.config import TrackingConfig, load_section
    from pipelines.dataset import load_task_data

    root = paths.project_root()
    config = load_section("tracking", TrackingConfig)
    tracking.configure(config)
    outs = {}
    for task in ("harm_type", "learning_theme"):
        print(f"Running stage 'train@{task}':", flush=True)
        data = load_task_data(task, root / "data/processed/dataset", labels="all")
        parts = [data.splits["train"], data.splits["validation"]]
        texts = [t for part in parts for t in part.texts]
        fit_tfidf(task, data.labels, texts, np.vstack([p.y for p in parts]), root / "models" / task / "tfidf_linear")
        outs[f"models/{task}/tfidf_linear"] = f"retrained-{task}"
    write_lock(root, outs)
    print("Running stage 'evaluate':", flush=True)
    for task in ("harm_type", "learning_theme"):
        run = tracking.log_model_run(task, "tfidf_linear", root / "models" / task / "tfidf_linear", METRICS, [], config)
        print(f"{task}: registered version {run['version']}", flush=True)


if __name__ == "__main__":
    main()
