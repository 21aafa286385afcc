"""The project files a DVC stage's command runs: `python tests/stage_imports.py STAGE_CMD...` from the
project root prints them as JSON. dvc.yaml's deps must cover them (tests/test_stage_deps.py).

What counts: the stage module and every project module it imports, at import time or inside a
function (followed transitively, so a lazily imported encoder counts), plus the model kinds the
registry imports by name while the stage runs (the kind a train stage trains and what training it
needs: `training.required_kinds`; every kind for evaluate), each with its own closure, plus the
package `__init__` of each. `pipelines/mlflow_model.py` is logged by path from tracking.py, so it
counts wherever tracking does.
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BY_PATH = {"pipelines.tracking": ["pipelines.mlflow_model"]}


def project_modules() -> dict[str, Path]:
    out = {}
    for path in (ROOT / "pipelines").rglob("*.py"):
        out[".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")] = path
    return out


def imports_of(name: str, modules: dict[str, Path]) -> set[str]:
    found = set(BY_PATH.get(name, []))
    for node in ast.walk(ast.parse(modules[name].read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target:
                found.add(target)
    return found


def closure(starts: list[str], modules: dict[str, Path]) -> set[str]:
    seen, todo = set(), list(starts)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in modules]
        todo += sorted(imports_of(name, modules))
    return seen


def stage_files(cmd: str) -> list[str]:
    modules = project_modules()
    module = re.search(r"python3? -m ([\w.]+)", cmd).group(1)
    starts = [module]
    kind = re.search(r"--kind (\w+)", cmd)
    if kind:
        sys.path.insert(0, str(ROOT))
        from pipelines.config import load_params
        from pipelines.modeling import training

        names = training.required_kinds(kind.group(1), load_params().get(kind.group(1)) or {})
        starts += [f"pipelines.modeling.kinds.{name}" for name in names]
    if module.endswith(".evaluate"):  # evaluation loads every kind it is given
        starts += [name for name in modules if name.startswith("pipelines.modeling.kinds.")]
    return sorted(modules[name].relative_to(ROOT).as_posix() for name in closure(starts, modules))


if __name__ == "__main__":
    print(json.dumps(stage_files(" ".join(sys.argv[1:]))))
