"""Static guards: no pickle-based persistence and no unsafe torch.load anywhere in the package."""

import re

from .conftest import ROOT


def _sources():
    return sorted((ROOT / "pipelines").rglob("*.py"))


def test_no_pickle_or_joblib_persistence():
    pattern = re.compile(r"^\s*(import|from)\s+(pickle|joblib|dill|cloudpickle)\b|\.to_pickle\(|\bjoblib\.dump\(", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in _sources() if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_torch_load_only_with_weights_only():
    for path in _sources():
        for call in re.findall(r"torch\.load\([^)]*\)", path.read_text(encoding="utf-8")):
            assert "weights_only=True" in call, f"{path}: {call}"


def test_no_pickle_files_in_models_or_repo():
    found = [p for pattern in ("*.pkl", "*.pickle", "*.joblib") for p in ROOT.glob(f"models/**/{pattern}")]
    assert found == []
