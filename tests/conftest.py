"""Shared fixtures. Tests never touch the network: the Hub is switched off before anything imports it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
RAW = ROOT / "data" / "raw"


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
    from pipelines.stages.clean import clean
    from pipelines.stages.ingest import ingest

    reviews, report = ingest(RAW, 64 * 1024 * 1024)
    cleaned, _ = clean(reviews, CleanConfig())
    return cleaned, report
