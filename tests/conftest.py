"""Shared fixtures. Tests never touch the network: the Hub is switched off before anything imports it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RAW = ROOT / "data" / "raw"


class NetworkBlocked(RuntimeError):
    """Raised by any attempt to open a network connection during the tests."""


@pytest.fixture(autouse=True, scope="session")
def no_network():
    """The code must never reach the Hub (or anywhere) at run time: any outbound connection made by
    a test fails it loudly instead of hanging or quietly downloading. Unix sockets stay allowed."""
    import socket

    real_connect = socket.socket.connect

    def guarded(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkBlocked(f"network access attempted in a test: {address!r}")
        return real_connect(self, address)

    socket.socket.connect = guarded
    yield
    socket.socket.connect = real_connect


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def raw_listing_text() -> str:
    return next(RAW.glob("004_*.txt")).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def corpus_reviews():
    """The real corpus through ingest + clean, as the pipeline sees it."""
    from pipelines.config import CleanConfig
    from pipelines.corpus.cleaning import clean
    from pipelines.corpus.raw import ingest

    reviews, report = ingest(RAW, 64 * 1024 * 1024)
    cleaned, _ = clean(reviews, CleanConfig())
    return cleaned, report


@pytest.fixture()
def project(tmp_path, monkeypatch):
    """A project folder with models/<task>/<kind> for two kinds, no MLflow store: `champion` = best local."""
    from pipelines.modeling.kinds.lexicon import LexiconClassifier
    from pipelines.modeling.kinds.tfidf_linear import TfidfLinearClassifier

    from .helpers import LABELS, THEME_LABELS, THEME_PHRASES, synthetic

    texts, y = synthetic(80, seed=0)
    t_texts, t_y = synthetic(80, seed=0, labels=THEME_LABELS, phrases=THEME_PHRASES)
    models = tmp_path / "models"
    for task, labels, (xs, ys) in (("harm_type", LABELS, (texts, y)), ("learning_theme", THEME_LABELS, (t_texts, t_y))):
        TfidfLinearClassifier(task, labels, {"min_df": 1}).fit(xs, ys).save(models / task / "tfidf_linear")
        LexiconClassifier(task, labels, lexicon_path=ROOT / "data/lexicon.yaml").save(models / task / "lexicon")
    shutil.copytree(FIXTURES / "mixed", tmp_path / "inbox")
    shutil.copy(FIXTURES / "gold_example.jsonl", tmp_path / "gold.jsonl")
    shutil.copytree(FIXTURES / "mixed", tmp_path / "mixed")
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "data/taxonomy_contract.md", tmp_path / "data/taxonomy_contract.md")
    use_project(tmp_path, monkeypatch)
    return tmp_path


def use_project(folder: Path, monkeypatch) -> Path:
    """Make `folder` the project root (REVIEWTAG_ROOT) and the current folder, with the real params."""
    if not (folder / "params.yaml").exists():
        shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    monkeypatch.setenv("REVIEWTAG_ROOT", str(folder))
    monkeypatch.chdir(folder)
    return folder
