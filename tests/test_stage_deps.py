"""Each DVC stage's `deps` cover every project module its command imports, so a change to any of
them reruns the stage: the stage's module is imported in a fresh interpreter (with the kinds a
train stage runs, which the registry imports by name) and `sys.modules` is compared with dvc.yaml."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

import pytest
import yaml

from .conftest import ROOT

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _docstring_only(path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(b, ast.Expr) and isinstance(getattr(b, "value", None), ast.Constant) for b in body)


@pytest.mark.parametrize("name", sorted(STAGES))
def test_stage_deps_cover_its_imports(name):
    stage = STAGES[name].get("do", STAGES[name])
    deps = [d if isinstance(d, str) else next(iter(d)) for d in stage.get("deps", [])]
    for item in STAGES[name].get("foreach", [None]):
        cmd = stage["cmd"].replace("${item}", item or "")
        run = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "stage_imports.py"), cmd],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert run.returncode == 0, run.stderr[-2000:]
        imported = [f for f in json.loads(run.stdout) if not _docstring_only(ROOT / f)]
        missing = [f for f in imported if not any(f == d or f.startswith(d.rstrip("/") + "/") for d in deps)]
        assert imported and not missing, f"stage {name} imports {missing} but dvc.yaml does not list them"


def test_no_stage_lists_a_module_it_does_not_import():
    """The converse, for the package's own files: a stale dep reruns a stage for nothing."""
    for name, raw in STAGES.items():
        stage = raw.get("do", raw)
        cmd = stage["cmd"].replace("${item}", (raw.get("foreach") or [""])[0])
        run = subprocess.run(
            [sys.executable, str(ROOT / "tests" / "stage_imports.py"), cmd], cwd=ROOT, capture_output=True, text=True
        )
        imported = set(json.loads(run.stdout))
        listed = [d for d in stage.get("deps", []) if isinstance(d, str) and d.startswith("pipelines/")]
        stale = [d for d in listed if d.endswith(".py") and d not in imported]
        assert not stale, f"stage {name} lists {stale}, which its command never imports"
