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


def test_torch_load_only_with_weights_only():
    for path in _sources():
        for call in re.findall(r"torch\.load\([^)]*\)", path.read_text(encoding="utf-8")):
            assert "weights_only=True" in call, f"{path}: {call}"


def test_no_pickle_files_in_models_or_repo():
    found = [p for pattern in ("*.pkl", "*.pickle", "*.joblib") for p in ROOT.glob(f"models/**/{pattern}")]
    assert found == []


def test_network_is_blocked_while_testing():
    import socket

    from .conftest import NetworkBlocked

    with pytest.raises(NetworkBlocked), socket.socket() as sock:
        sock.connect(("203.0.113.7", 443))  # an address literal: no DNS lookup before the guard


def test_a_hub_model_id_fails_fast_instead_of_downloading():
    """Offline mode is on for every test; a Hub id (not a local directory) must error, not fetch."""
    from pipelines.classifiers.transformer import WindowEncoder
    from pipelines.classifiers.transformer_config import TransformerConfig

    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(OSError):
        WindowEncoder("sentence-transformers/not-a-local-model", TransformerConfig(base_model="x"))


def test_every_from_pretrained_call_is_local_only():
    calls = [
        (path.name, call)
        for path in _sources()
        for call in re.findall(r"from_pretrained\([^)]*\)", path.read_text(encoding="utf-8"))
    ]
    assert calls, "expected the transformer module to load models with from_pretrained"
    for name, call in calls:
        assert "local_files_only=True" in call, f"{name}: {call}"
