"""Turn what a user types after --model into loaded classifiers, one per task.

Accepted: `champion` (the registry alias per task, else experiments/champions.json, else the best
local model), a model kind, a registry URI (`models:/name@alias`, `models:/name/3`), an MLflow
run (`runs:/<id>/model` or a bare run id), or a local directory (one model, or a folder with one
sub-folder per task).
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pipelines import paths
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling import registry
from pipelines.modeling.base import META_FILE, ReviewClassifier
from pipelines.modeling.registry import load_classifier

RUN_ID = re.compile(r"^[0-9a-f]{32}$")


class ModelNotFoundError(RuntimeError):
    """No usable model for the request; the message tells the user what to do."""


@dataclass
class ResolvedModel:
    task: str
    classifier: ReviewClassifier
    name: str  # what a report or an output row calls it
    version: str = ""


def _local(task: str, kind: str, models_dir: Path, backend: str | None = None) -> ResolvedModel | None:
    directory = models_dir / task / kind
    if (directory / META_FILE).is_file():
        return ResolvedModel(task, load_classifier(directory, backend), f"{task}-{kind}", "local")
    return None


def _tracking_store(connect: bool = True) -> str | None:
    """The configured MLflow store (MLflow pointed at it where `connect`), or None where it does not
    exist yet."""
    from pipelines import tracking
    from pipelines.config import TrackingConfig, load_section

    config = load_section("tracking", TrackingConfig)
    return tracking.configure(config, create=False) if connect else tracking.store_uri(config, create=False)


def _registry_champion(task: str, alias: str, models_dir: Path, backend: str | None) -> ResolvedModel | None:
    uri = _tracking_store(connect=False)
    if not uri:
        return None
    from pipelines import tracking

    found = tracking.get_alias(task, alias, uri)
    if not found:
        return None
    kind, version, logged_md5 = found
    local_dir = models_dir / task / kind
    if logged_md5 and logged_md5 == tracking.dvc_out_md5(local_dir):
        local = _local(task, kind, models_dir, backend)  # the very files evaluate registered: no download
        if local:
            return ResolvedModel(task, local.classifier, f"{task}-{kind}", version)
    return _from_uri(f"models:/{tracking.registered_name(task, kind)}@{alias}", f"{task}-{kind}", version, backend)


def _from_uri(uri: str, name: str = "", version: str = "", backend: str | None = None) -> ResolvedModel:
    if not _tracking_store():
        raise ModelNotFoundError(f"cannot load {uri}: no MLflow store here; run `dvc repro` or set MLFLOW_TRACKING_URI")
    from pipelines import tracking

    try:
        directory = tracking.download_model_dir(uri, tempfile.mkdtemp(prefix="reviewtag-model-"))
    except Exception as exc:  # mlflow raises several unrelated types for a missing model
        raise ModelNotFoundError(f"cannot load {uri}: {str(exc).splitlines()[0]}") from exc
    classifier = load_classifier(directory, backend)
    return ResolvedModel(classifier.meta.task, classifier, name or uri, version or uri.rsplit("/", 1)[-1])


def champion_kind(task: str) -> str | None:
    """The kind the last `dvc repro` chose for `task` (experiments/champions.json), if any."""
    champions = paths.resolve(paths.CHAMPIONS)
    if not champions.is_file():
        return None
    return json.loads(champions.read_text(encoding="utf-8")).get("champions", {}).get(task, {}).get("kind")


def resolve_task(spec: str, task: str, models_dir: Path | None = None, backend: str | None = None) -> ResolvedModel:
    models_dir = models_dir or paths.resolve(paths.MODELS)
    if spec in registry.kinds():
        found = _local(task, spec, models_dir, backend)
        if not found:
            raise ModelNotFoundError(f"no trained {spec} model for {task} under {models_dir}; run `dvc repro`")
        return found
    if spec == "champion":
        found = _registry_champion(task, "champion", models_dir, backend)
        if found:
            return found
        kind = champion_kind(task)
        if kind and (found := _local(task, kind, models_dir, backend)):
            return found
        for kind in reversed(registry.kinds()):  # the richest trained kind
            if found := _local(task, kind, models_dir, backend):
                return found
        raise ModelNotFoundError(f"no trained model for {task}: run `dvc repro` first")
    raise ModelNotFoundError(f"unknown model {spec!r}")


def resolve(spec: str, models_dir: Path | None = None, backend: str | None = None) -> dict[str, ResolvedModel]:
    """One model per task. A spec naming a single task's model fills the other task with the champion.
    `backend` (onnx | torch) chooses what runs the encoder kinds' encoders (default: each model's own)."""
    spec = spec.strip()
    models_dir = models_dir or paths.resolve(paths.MODELS)
    if spec in registry.kinds() or spec == "champion":
        return {task: resolve_task(spec, task, models_dir, backend) for task in TASKS}
    single: ResolvedModel | None = None
    if spec.startswith(("models:/", "runs:/")) or RUN_ID.match(spec):
        uri = f"runs:/{spec}/model" if RUN_ID.match(spec) else spec
        if not re.match(r"^(models:/[\w.-]+(@[\w-]+|/\d+)|runs:/[0-9a-f]{32}/[\w/.-]+)$", uri):
            raise ModelNotFoundError(
                f"malformed model URI {spec!r}; expected models:/NAME@ALIAS, "
                "models:/NAME/VERSION, runs:/RUN_ID/model or a run id"
            )
        single = _from_uri(uri, backend=backend)
    else:
        path = Path(spec)
        if not path.is_dir():
            raise ModelNotFoundError(
                f"--model {spec!r} is not champion, a model kind ({', '.join(registry.kinds())}), "
                "a models:/ or runs:/ URI, a run id, or a model directory"
            )
        if (path / META_FILE).is_file():
            classifier = load_classifier(path, backend)
            single = ResolvedModel(classifier.meta.task, classifier, str(path), "local")
        else:
            found = {
                t: ResolvedModel(t, load_classifier(path / t, backend), str(path / t), "local")
                for t in TASKS
                if (path / t / META_FILE).is_file()
            }
            if not found:
                raise ModelNotFoundError(f"{path}: no model inside (no {META_FILE} here or in a task sub-folder)")
            return found | {t: resolve_task("champion", t, models_dir, backend) for t in TASKS if t not in found}
    assert single is not None
    others = {t: resolve_task("champion", t, models_dir, backend) for t in TASKS if t != single.task}
    return {single.task: single} | others
