"""The registry side of a retrain: which model is the champion before `dvc repro`, putting the alias back
after it, which registered version a retrained model is, loading both for the comparison, and promoting.

Why put the alias back: the evaluate stage moves `champion` to its cross-validation choice by itself, but a
retrain started from the page must promote nothing; a person does, with `promote`, saying who and why.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipelines import paths
from pipelines.labels.taxonomy import TASKS

CHAMPION = "champion"  # the alias `reviewtag tag` reads (pipelines.modeling.resolve)
Champion = dict[str, str] | None  # {"kind", "version", "md5"} of the model holding the alias, or None


def _config():
    from pipelines.config import TrackingConfig, load_section

    return load_section("tracking", TrackingConfig)


def snapshot(alias: str = CHAMPION) -> dict[str, Champion]:
    """Per task, the model holding `alias` now. A local SQLite store is read directly (no MLflow import);
    no store yet means no champion."""
    from pipelines import tracking

    uri = tracking.store_uri(_config(), create=False)
    out: dict[str, Champion] = {}
    for task in TASKS:
        found = tracking.get_alias(task, alias, uri) if uri else None
        out[task] = dict(zip(("kind", "version", "md5"), found, strict=True)) if found else None
    return out


def _same(a: Champion, b: Champion) -> bool:
    return (a or {}).get("kind") == (b or {}).get("kind") and (a or {}).get("version") == (b or {}).get("version")


def restore(before: dict[str, Champion], alias: str = CHAMPION) -> list[dict[str, Any]]:
    """Put `alias` back where it was before the repro, per task, and say what the repro had moved."""
    from pipelines import tracking

    after = snapshot(alias)
    moved = [task for task in before if not _same(before[task], after.get(task))]
    if not moved:
        return []
    tracking.configure(_config())
    records = []
    for task in moved:
        was = before[task]
        if was:
            tracking.set_alias(task, was["kind"], was["version"], alias)
        else:
            tracking.clear_alias(task, alias)
        records.append({"task": task, "moved_to": short(after.get(task)), "restored_to": short(was)})
    return records


def short(found: Champion) -> dict[str, str] | None:
    return {"kind": found["kind"], "version": found["version"]} if found else None


def candidate(task: str) -> dict[str, Any] | None:
    """The retrained model of `task`: the kind the evaluate stage chose (experiments/champions.json), its
    files under models/, and the registered version that holds exactly those files (None if unregistered)."""
    from pipelines import tracking
    from pipelines.modeling.resolve import champion_kind

    kind = champion_kind(task)
    if not kind:
        return None
    directory = paths.resolve(paths.MODELS) / task / kind
    md5 = tracking.dvc_out_md5(directory)
    found = None
    if md5 != "unknown" and tracking.store_uri(_config(), create=False):
        tracking.configure(_config(), create=False)
        found = tracking.version_of_files(task, kind, md5)
    return {
        "kind": kind,
        "model": tracking.registered_name(task, kind),
        "directory": paths.shown(directory),
        "md5": md5,
        "version": found[0] if found else None,
        "run_id": found[1] if found else None,
    }


def load_candidate(task: str, found: dict[str, Any]):
    """The retrained model, from the files the repro wrote."""
    from pipelines.modeling.registry import load_classifier
    from pipelines.modeling.resolve import ResolvedModel

    classifier = load_classifier(paths.resolve(found["directory"]))
    return ResolvedModel(task, classifier, f"{found['model']} (retrained)", found["version"] or "local")


def load_champion(task: str, found: dict[str, str]):
    """The champion as registered: the local files when the repro left them as they were logged (same
    dvc.lock md5), else its logged copy from the registry (the repro has overwritten models/)."""
    from pipelines import tracking
    from pipelines.modeling.base import META_FILE
    from pipelines.modeling.registry import load_classifier
    from pipelines.modeling.resolve import ResolvedModel

    name = tracking.registered_name(task, found["kind"])
    local = paths.resolve(paths.MODELS) / task / found["kind"]
    md5 = found.get("md5", "")
    if md5 not in ("", "unknown") and md5 == tracking.dvc_out_md5(local) and (local / META_FILE).is_file():
        directory = local
    else:
        tracking.configure(_config(), create=False)
        uri = f"models:/{name}/{found['version']}"
        directory = tracking.download_model_dir(uri, tempfile.mkdtemp(prefix="reviewtag-champion-"))
    return ResolvedModel(task, load_classifier(Path(directory)), f"{name} (champion)", found["version"])


def promote_version(
    task: str, kind: str, version: str, by: str, reason: str, job_id: str | None = None, alias: str = CHAMPION
) -> dict[str, Any]:
    """Move `alias` to one registered version and record on it who moved it, why and when. The version
    must exist: a typo must not leave the task without a champion."""
    from mlflow.exceptions import MlflowException

    from pipelines import tracking

    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
    tracking.configure(_config())
    name = tracking.registered_name(task, kind)
    try:
        tracking.version_tags(task, kind, version)
    except MlflowException as exc:
        raise ValueError(f"{name} has no registered version {version}: {str(exc).splitlines()[0]}") from exc
    previous = snapshot(alias)[task]
    tags = {
        "promoted_by": by,
        "promoted_reason": reason,
        "promoted_at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "promoted_alias": alias,
        "promoted_from": f"{previous['kind']} version {previous['version']}" if previous else "none",
    }
    if job_id:
        tags["retrain_job"] = job_id
    tracking.set_alias(task, kind, version, alias)
    tracking.set_version_tags(task, kind, version, tags)
    return {"task": task, "kind": kind, "model": name, "version": version, "alias": alias, "tags": tags}
