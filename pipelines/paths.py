"""Every artifact's path, named once and anchored at the project root (cookiecutter-data-science's
`PROJ_ROOT`), so `reviewtag tag`, `correct` and `serve` work from any folder and write where the
project expects.

The root is `REVIEWTAG_ROOT` when set (read on every call, so a test or a second checkout can point
it elsewhere), else the checkout this package was installed from (an editable install), else the
nearest folder above the current one that holds `params.yaml`. Paths written in `params.yaml`
(taxonomy, lexicon, corrections, ...) are relative to the root too: `resolve()` anchors them.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "REVIEWTAG_ROOT"
PARAMS_NAME = "params.yaml"
_PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def project_root() -> Path:
    override = os.environ.get(ROOT_ENV)
    if override:
        return Path(override).resolve()
    if (_PACKAGE_PARENT / PARAMS_NAME).is_file():
        return _PACKAGE_PARENT
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / PARAMS_NAME).is_file():
            return folder
    return here


def resolve(path: str | Path) -> Path:
    """A path from params.yaml or a default below, anchored at the project root unless absolute."""
    path = Path(path)
    return path if path.is_absolute() else project_root() / path


def shown(path: str | Path) -> str:
    """How a file is named in reports and messages: relative to the project root when inside it, so
    a report written on one machine reads the same on another."""
    path = Path(path)
    try:
        return path.resolve().relative_to(project_root()).as_posix()
    except ValueError:
        return str(path)


# Relative locations (the same strings dvc.yaml uses); call `resolve()` (or the helpers) for a real path.
PARAMS = Path(PARAMS_NAME)
RAW = Path("data/raw")
ADDED_REVIEWS = Path("data/raw/added")
INTERIM = Path("data/interim")
CORPUS = Path("data/interim/dedup.jsonl")  # the label stage's input: corrections are checked against it
LABELLED = Path("data/interim/labelled.jsonl")
LABEL_REPORT = Path("data/interim/label_report.json")
DATASET = Path("data/processed/dataset")
SPLIT_REPORT = Path("data/processed/split_report.json")
CONTRACT = Path("data/taxonomy_contract.md")
TAXONOMY = Path("data/taxonomy.yaml")
LEXICON = Path("data/lexicon.yaml")
CORRECTIONS = Path("data/corrections")
GUIDELINES = Path("data/gold/guidelines.md")
PASSES = Path("data/gold/passes")
MODELS = Path("models")
REFIT = Path("models/refit")
EXPERIMENTS = Path("experiments")
CHAMPIONS = Path("experiments/champions.json")
