"""The only module that talks to MLflow.

Default store: SQLite under experiments/ (artifacts beside it); MLFLOW_TRACKING_URI points it at a
team server instead. Logging is idempotent: a run carries a fingerprint of the model files and the
dataset, and a model already logged with that fingerprint is not logged again, so an unchanged
`dvc repro` adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import Any

import yaml

from pipelines import paths
from pipelines.config import TrackingConfig

log = logging.getLogger(__name__)
MODEL_CODE = Path(__file__).with_name("mlflow_model.py")
# What the logged pyfunc needs to load a model: the ONNX path by default, torch as the fallback.
PYFUNC_REQUIREMENTS = [
    "mlflow",
    "numpy",
    "pandas",
    "pyyaml",
    "safetensors",
    "onnxruntime",
    "tokenizers",
    "torch",
    "transformers",
]
LOCAL_MD5_TAG = "reviewtag.dvc_md5"  # dvc.lock's md5 of the model directory that was logged


def registered_name(task: str, kind: str) -> str:
    return f"{task}-{kind}"


def configure(config: TrackingConfig, create: bool = True) -> str | None:
    """Point MLflow at the store (`MLFLOW_TRACKING_URI` wins over params). With create=False a local
    SQLite store that does not exist yet is left alone and None returned: reading a model must
    never create an empty store as a side effect."""
    uri = store_uri(config, create)
    if uri is None:
        return None
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def store_uri(config: TrackingConfig, create: bool = True) -> str | None:
    """The store's URI without importing MLflow; None for a local SQLite store that is not there
    (with create=False)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or config.uri
    if uri.startswith("sqlite:///"):
        database = paths.resolve(uri.removeprefix("sqlite:///"))
        uri = f"sqlite:///{database}"
        if not create and not database.is_file():
            return None
        if create:
            database.parent.mkdir(parents=True, exist_ok=True)
    return uri


def _experiment(task: str, config: TrackingConfig) -> str:
    import mlflow

    found = mlflow.get_experiment_by_name(task)
    if found:
        return found.experiment_id
    root = paths.resolve(config.artifact_root) / task
    return mlflow.create_experiment(task, artifact_location=root.as_uri())


def fingerprint(model_dir: Path, extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(model_dir).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
            cwd=paths.project_root(),
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def dvc_out_md5(out: str | Path, lock_file: str | Path | None = None) -> str:
    """The md5 DVC recorded in dvc.lock for one output (a path relative to the project root), or
    "unknown": what ties a registered model to the very files `dvc repro` wrote."""
    out = Path(out)
    if out.is_absolute():
        try:
            out = out.relative_to(paths.project_root())
        except ValueError:
            return "unknown"
    try:
        lock = yaml.safe_load(paths.resolve(lock_file or "dvc.lock").read_text(encoding="utf-8"))
        return next(
            o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", []) if o["path"] == out.as_posix()
        )
    except (OSError, KeyError, StopIteration, TypeError, AttributeError):
        return "unknown"


def dataset_hash(lock_file: str | Path | None = None) -> str:
    return dvc_out_md5(paths.DATASET, lock_file)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, out)
    else:
        out[prefix] = value


def log_model_run(
    task: str,
    kind: str,
    model_dir: Path,
    metrics: dict[str, dict],
    plots: list[Path],
    config: TrackingConfig,
    tags: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One run per (task, model version): params, lineage, split metrics as scalars, the per-label
    table, plots and the pyfunc model (registered). Returns run id and model version."""
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf-8"))
    data_hash = dataset_hash()
    run_fingerprint = fingerprint(model_dir, data_hash + json.dumps(metrics, sort_keys=True))
    experiment_id = _experiment(task, config)
    existing = mlflow.search_runs(
        [experiment_id],
        filter_string=f"tags.`reviewtag.fingerprint` = '{run_fingerprint}'",
        output_format="list",
        max_results=1,
    )
    if existing:
        run = existing[0]
        return {"run_id": run.info.run_id, "version": run.data.tags.get("reviewtag.model_version"), "new": False}
    params: dict[str, Any] = {"kind": kind, "task": task, "n_labels": len(meta["labels"])}
    _flatten("", meta.get("params", {}), params)
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{task}-{kind}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.set_tags(
            {
                "reviewtag.fingerprint": run_fingerprint,
                "reviewtag.kind": kind,
                "reviewtag.task": task,
                "mlflow.source.git.commit": git_commit(),
                "dataset.dvc_md5": data_hash,
                LOCAL_MD5_TAG: dvc_out_md5(model_dir),
                "taxonomy_version": meta.get("taxonomy_version", ""),
                **(tags or {}),
            }
        )
        for split, result in metrics.items():
            mlflow.log_metrics({f"{split}_{m}": result[m] for m in ("micro_f1", "macro_f1", "samples_f1")})
        rows = [
            {"split": split, "label": label, **values}
            for split, result in metrics.items()
            for label, values in result["per_label"].items()
        ]
        mlflow.log_table(pd.DataFrame(rows), artifact_file="per_label_metrics.json")
        mlflow.log_dict({"labels": meta["labels"], "thresholds": meta["thresholds"]}, "label_vocabulary.json")
        for plot in plots:
            if plot.exists():
                mlflow.log_artifact(str(plot), artifact_path="plots")
        example = pd.DataFrame({"text": ["Death of a baby after co-sleeping; learning on safer sleep advice."]})
        signature = infer_signature(example, pd.DataFrame([[0.5] * len(meta["labels"])], columns=meta["labels"]))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(MODEL_CODE),
            artifacts={"model_dir": str(model_dir)},
            code_paths=[str(Path(__file__).parent)],
            signature=signature,
            input_example=example,
            pip_requirements=PYFUNC_REQUIREMENTS,
            registered_model_name=registered_name(task, kind) if config.register else None,
        )
        version = str(info.registered_model_version) if config.register else ""
        mlflow.set_tag("reviewtag.model_version", version)
    return {"run_id": run.info.run_id, "version": version, "new": True}


REFIT_TAG = "reviewtag.refit"  # on runs of models refit on every labelled year (see pipelines/refit.py)


def recipe_run(task: str, kind: str) -> str | None:
    """The newest run of `task`/`kind` fitted on the temporal split (not a refit): the run whose test
    figures describe the recipe."""
    import mlflow

    for run in mlflow.search_runs(
        search_all_experiments=True,
        filter_string=f"tags.`reviewtag.task` = '{task}' and tags.`reviewtag.kind` = '{kind}'",
        order_by=["attributes.start_time DESC"],
        output_format="list",
    ):
        if REFIT_TAG not in run.data.tags:
            return run.info.run_id
    return None


def set_alias(task: str, kind: str, version: str, alias: str) -> None:
    """An alias such as `champion` names one model per task: it leaves the task's other models."""
    from mlflow import MlflowClient

    client = MlflowClient()
    name = registered_name(task, kind)
    for model in client.search_registered_models(filter_string=f"name LIKE '{task}-%'"):
        if model.name != name and alias in (model.aliases or {}):
            client.delete_registered_model_alias(model.name, alias)
    client.set_registered_model_alias(name, alias, version)


def latest_version(task: str, kind: str) -> str | None:
    from mlflow import MlflowClient

    versions = MlflowClient().search_model_versions(f"name = '{registered_name(task, kind)}'")
    return str(max(int(v.version) for v in versions)) if versions else None


def get_alias(task: str, alias: str, uri: str | None = None) -> tuple[str, str, str] | None:
    """(kind, version, dvc.lock md5 of the files logged) of the registered model of `task` that holds
    `alias`, if any.

    A local SQLite store (`uri`) is read directly, read-only: importing MLflow and opening its store
    took ~3.5 s, most of `reviewtag tag`'s start-up on one file. Any other store, or a table this
    reader does not recognise, goes through MlflowClient (the store `configure` set, or `uri`)."""
    if uri and uri.startswith("sqlite:///"):
        try:
            return _sqlite_alias(Path(uri.removeprefix("sqlite:///")), task, alias)
        except sqlite3.Error:
            pass
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri, registry_uri=uri) if uri else MlflowClient()
    for model in client.search_registered_models(filter_string=f"name LIKE '{task}-%'"):
        try:
            version = client.get_model_version_by_alias(model.name, alias)
        except MlflowException:
            continue
        run = client.get_run(version.run_id) if version.run_id else None
        md5 = run.data.tags.get(LOCAL_MD5_TAG, "") if run else ""
        return model.name.removeprefix(f"{task}-"), str(version.version), md5
    return None


def _sqlite_alias(database: Path, task: str, alias: str) -> tuple[str, str, str] | None:
    query = (
        "SELECT a.name, a.version, v.run_id FROM registered_model_aliases a "
        "LEFT JOIN model_versions v ON v.name = a.name AND v.version = a.version WHERE a.alias = ?"
    )
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute(query, (alias,)).fetchall()
        mine = [(str(name), str(version), run) for name, version, run in rows if str(name).startswith(f"{task}-")]
        if len(mine) > 1:  # several workspaces hold the alias: MLflow knows which one is this user's
            raise sqlite3.Error(f"alias {alias!r} of {task} held {len(mine)} times")
        if not mine:
            return None
        name, version, run_id = mine[0]
        tag = db.execute("SELECT value FROM tags WHERE run_uuid = ? AND key = ?", (run_id, LOCAL_MD5_TAG)).fetchone()
    return name.removeprefix(f"{task}-"), version, tag[0] if tag else ""


def download_model_dir(model_uri: str, dst: str | Path) -> Path:
    """A registry or run URI (models:/name@alias, models:/name/3, runs:/id/model) → local model dir."""
    import mlflow

    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(dst)))
    found = next((p.parent for p in local.rglob("meta.json")), None)
    if found is None:
        raise FileNotFoundError(f"{model_uri}: no reviewtag model inside the logged artifacts")
    return found


def clear_alias(task: str, alias: str) -> None:
    """Remove `alias` from whichever model of `task` holds it: how a retrain undoes the alias that the
    evaluate stage set when there was no champion before it (nothing is promoted without a person)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for model in client.search_registered_models(filter_string=f"name LIKE '{task}-%'"):
        if alias in (model.aliases or {}):
            client.delete_registered_model_alias(model.name, alias)


def set_version_tags(task: str, kind: str, version: str, tags: dict[str, str]) -> None:
    """Tags on one registered model version (who promoted it and why live there, beside the model)."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(registered_name(task, kind), str(version), key, str(value))


def version_tags(task: str, kind: str, version: str) -> dict[str, str]:
    """A registered version's tags; raises MlflowException for a version that does not exist."""
    from mlflow import MlflowClient

    return dict(MlflowClient().get_model_version(registered_name(task, kind), str(version)).tags or {})


def version_of_files(task: str, kind: str, md5: str) -> tuple[str, str] | None:
    """(version, run id) of the newest recipe run (not a refit) of `task`/`kind` that logged the model
    files whose dvc.lock md5 is `md5`: the version the last `dvc repro` registered for them, which is
    what a retrain's Promote would move the alias to. None where no registered run has those files."""
    import mlflow

    for run in mlflow.search_runs(
        search_all_experiments=True,
        filter_string=(
            f"tags.`reviewtag.task` = '{task}' and tags.`reviewtag.kind` = '{kind}' "
            f"and tags.`{LOCAL_MD5_TAG}` = '{md5}'"
        ),
        order_by=["attributes.start_time DESC"],
        output_format="list",
    ):
        version = run.data.tags.get("reviewtag.model_version", "")
        if REFIT_TAG not in run.data.tags and version:
            return version, run.info.run_id
    return None
