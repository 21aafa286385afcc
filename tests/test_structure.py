"""The package's shape, checked so it cannot drift: no import cycles, product code never imports a
stage, research and benchmarks stay out of the package, no oversized modules or functions."""

from __future__ import annotations

import ast
from pathlib import Path

from .conftest import ROOT
from .stage_imports import imports_of, project_modules

PACKAGE = ROOT / "pipelines"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    return project_modules()


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every project module `name` imports, at import time or inside a function (as stage deps count them)."""
    return imports_of(name, modules) - {name}


def test_no_import_cycles():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), list(graph[start])
        while todo:
            node = todo.pop()
            if node == goal:
                return True
            if node not in seen:
                seen.add(node)
                todo.extend(graph[node])
        return False

    cycles = sorted(f"{a} <-> {b}" for a in graph for b in graph[a] if a < b and reaches(b, a))
    assert cycles == []


def test_product_code_never_imports_a_stage():
    modules = _modules()
    offenders = [
        name
        for name, path in modules.items()
        if not name.startswith("pipelines.stages")
        and any(m.startswith("pipelines.stages") for m in _imports(name, path, modules))
    ]
    assert offenders == []


def test_research_and_benchmarks_are_outside_the_package():
    """The wheel (and MLflow's code_paths, the package folder) hold only `pipelines`."""
    import tomllib

    assert not (PACKAGE / "research").exists()
    assert not any(p.stem == "bench" or p.stem.endswith(("_bench", "_search")) for p in PACKAGE.rglob("*.py"))
    assert (ROOT / "research").is_dir()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["setuptools"]["packages"]["find"]["include"] == ["pipelines*"]
    product = list(PACKAGE.rglob("*.py"))
    for path in product:  # the product never imports research
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        assert not any(name.split(".")[0] == "research" for name in names), path


def test_modules_and_functions_stay_small():
    too_long = []
    for path in PACKAGE.rglob("*.py"):
        lines = path.read_text(encoding="utf-8").splitlines()
        if len(lines) > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
        for node in ast.walk(ast.parse("\n".join(lines))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {size} lines")
    assert too_long == []
