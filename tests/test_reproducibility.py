"""Two `dvc repro --force` runs of the whole pipeline on one commit give the same metrics.

A tiny configuration (the real raw corpus, a 2-layer random BERT as the base model, no
cross-validation) keeps it to a minute or two; the stages, the dvc.yaml and the code are the
project's own, copied into a temporary DVC project.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from .conftest import ROOT
from .helpers import make_tiny_bert

pytest.importorskip("torch")
# Scores of seeded CPU training are expected to match exactly; the stated tolerance leaves room
# only for float summation order in the transformer's BLAS calls.
TOLERANCE = {"lexicon": 0.0, "tfidf_linear": 0.0, "transformer": 0.01, "quoted_items": 0.01, "ensemble": 0.01}


def _project(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(ROOT / name, project / name)
    shutil.copytree(ROOT / "pipelines", project / "pipelines", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("raw", "taxonomy.yaml", "taxonomy_contract.md", "lexicon.yaml", "corrections", "gold"):
        source = ROOT / "data" / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / "data" / name)
    (tmp_path / "tiny_bert").mkdir()
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["cross_validate"] = False
    params["tfidf_linear"] |= {"max_features": 2000, "char_ngram_max": 4}  # small models load fast
    params["tracking"]["register"] = False
    params["transformer"] |= {
        "base_model": make_tiny_bert(tmp_path / "tiny_bert"),
        "max_length": 64,
        "stride": 16,
        "max_windows": 8,
        "epochs": 20,
        "patience": 5,
        "quantize_int8": False,
    }
    params["quoted_items"] |= {
        "base_model": params["transformer"]["base_model"],
        "max_length": 64,
        "max_item_tokens": 32,
        "quantize_int8": False,
    }
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return project


def _dvc(project, *args):
    env = os.environ | {"DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    env.pop("MLFLOW_TRACKING_URI", None)  # the project's own SQLite store, inside tmp
    env.pop("REVIEWTAG_ROOT", None)  # the copied project is its own root
    done = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=project, env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def _scores(metrics_dir) -> dict[tuple[str, str, str, str], float]:
    """experiments/metrics/<task>/<kind>/<split>.json -> {(task, kind, split, metric): value}."""
    return {
        (path.parent.parent.name, path.parent.name, path.stem, metric): value
        for path in sorted(metrics_dir.glob("*/*/*.json"))
        for metric, value in json.loads(path.read_text()).items()
        if metric in ("micro", "macro")
    }


def test_two_forced_repros_give_the_same_metrics(tmp_path):
    project = _project(tmp_path)
    _dvc(project, "init", "--no-scm", "-q")
    runs = []
    for _ in range(2):
        _dvc(project, "repro", "--force", "-q")
        runs.append(_scores(project / "experiments/metrics"))
    first, second = runs
    assert first.keys() == second.keys() and {key[1] for key in first} == set(TOLERANCE)
    for key, value in first.items():
        assert abs(value - second[key]) <= TOLERANCE[key[1]], (key, value, second[key])
    assert any(value > 0 for value in first.values())  # a real score, not an empty run
