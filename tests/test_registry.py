"""The registry of kinds is the one list: every kind module registers itself, and everything that
lists kinds (CLI help, evaluate's default, `--model` validation) reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields

import pytest

from pipelines.config import EvaluateConfig
from pipelines.modeling import registry

from .conftest import ROOT


def test_every_kind_module_registers_its_kind_with_a_config():
    modules = sorted(p.stem for p in (ROOT / "pipelines/modeling/kinds").glob("*.py") if p.stem != "__init__")
    assert sorted([*registry.kinds(), "routed"]) == modules  # kind X lives in kinds/X.py
    for spec in registry.specs():
        assert spec.config is not None and spec.scorer is not None, spec.name
        assert spec.cls.kind == spec.name
        assert {f.name for f in fields(registry.kind_config(spec.name))}  # params.yaml section parses


def test_lists_of_kinds_come_from_the_registry():
    from typer.testing import CliRunner

    from pipelines.cli import app

    assert EvaluateConfig().kinds == registry.kinds()
    help_text = CliRunner().invoke(app, ["tag", "--help"]).output
    assert all(kind in help_text for kind in registry.kinds())
    with pytest.raises(ValueError, match="unknown model kind 'items'"):
        registry.spec("items")  # research only, never shipped


def test_listing_kinds_imports_no_heavy_library():
    """The registry imports every kind module to list them: that must stay cheap (the CLI's --help)."""
    code = "import sys; from pipelines.modeling import registry; registry.kinds(); " + (
        "print([m for m in ('torch', 'transformers', 'sklearn', 'skops', 'mlflow') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_routed_model_says_so_in_its_meta(tmp_path):
    from pipelines.modeling.training import build

    from .helpers import LABELS, synthetic

    texts, y = synthetic(40)
    model = build("tfidf_linear", "harm_type", LABELS, {"min_df": 1}, learnable=LABELS[:2])
    model.fit(texts, y).save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["kind"] == "tfidf_linear" and meta["wrapper"] == "routed"
    loaded = registry.load_classifier(tmp_path / "m")
    assert type(loaded).__name__ == "RoutedClassifier" and loaded.labels == sorted(LABELS)


def test_params_yaml_states_exactly_the_dataclass_defaults():
    """The dataclasses are the only defaults: params.yaml names every field of every section, with the
    dataclass's own default, so reading the code and reading params.yaml give the same settings."""
    import dataclasses

    import yaml

    from pipelines import config

    sections = {
        "ingest": config.IngestConfig,
        "clean": config.CleanConfig,
        "dedup": config.DedupConfig,
        "label": config.LabelConfig,
        "split": config.SplitConfig,
        "train": config.TrainConfig,
        "evaluate": config.EvaluateConfig,
        "tracking": config.TrackingConfig,
        "serve": config.ServeConfig,
        "long_documents": config.LongDocumentsConfig,
    } | {spec.name: spec.config for spec in registry.specs()}
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    assert set(params) == set(sections)
    for name, cls in sections.items():
        assert params[name] == dataclasses.asdict(cls()), name
