"""Guards: no pickle-based persistence, no unsafe torch.load, no network at run time."""

import os
import re

import pytest

from .conftest import ROOT


def _sources():
    return sorted((ROOT / "pipelines").rglob("*.py"))


def test_no_pickle_or_joblib_persistence():
    pattern = re.compile(r"^\s*(import|from)\s+(pickle|joblib|dill|cloudpickle)\b|\.to_pickle\(|\bjoblib\.dump\(", re.M)
    offenders = [str(p.relative_to(ROOT)) for p in _sources() if pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_no_torch_load_or_numpy_pickles():
    """Weights are safetensors and arrays are read with allow_pickle=False: torch.load (pickle
    underneath) and np.load without allow_pickle=False have no place in the package."""
    for path in _sources():
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"torch\.load\(", text), f"{path}: torch.load"
        for call in re.findall(r"np\.load\([^)]*\)", text):
            assert "allow_pickle=False" in call, f"{path}: {call}"


SAFE_SUFFIXES = {".json", ".safetensors", ".npy", ".txt", ".model", ".onnx"}


def test_saved_models_hold_only_safe_formats(project):
    """Every file a trained model directory holds (the `project` fixture trains two kinds per task)
    is JSON, safetensors, ONNX, a plain .npy or tokenizer text: never a pickle, never skops."""
    files = [p for p in (project / "models").rglob("*") if p.is_file()]
    assert files, "the fixture should have saved models"
    assert {p.suffix for p in files} <= SAFE_SUFFIXES, sorted({p.suffix for p in files} - SAFE_SUFFIXES)


def test_network_is_blocked_while_testing():
    import socket

    from .conftest import NetworkBlocked

    with pytest.raises(NetworkBlocked), socket.socket() as sock:
        sock.connect(("203.0.113.7", 443))  # an address literal: no DNS lookup before the guard


def test_a_hub_model_id_fails_fast_instead_of_downloading():
    """Offline mode is on for every test; a Hub id (not a local directory) must error, not fetch."""
    from pipelines.config import TransformerConfig
    from pipelines.modeling.kinds.transformer import TransformerClassifier

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(OSError):
        TransformerClassifier("harm_type", ["neglect"], {"base_model": "sentence-transformers/not-a-local-model"})
    assert TransformerConfig().base_model == ""


def test_every_from_pretrained_call_is_local_only():
    calls = [
        (path.name, call)
        for path in _sources()
        for call in re.findall(r"from_pretrained\([^)]*\)", path.read_text(encoding="utf-8"))
    ]
    assert calls, "expected the transformer module to load models with from_pretrained"
    for name, call in calls:
        assert "local_files_only=True" in call, f"{name}: {call}"
