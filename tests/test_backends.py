"""The two encoder backends give the same answers: the ONNX export run by onnxruntime + tokenizers
(the default for tagging) and the PyTorch encoder (training, and the fallback), for every encoder
kind, alone and inside a routed model and an ensemble; the export is byte-stable; a missing or broken
export falls back to torch with one warning line; tagging with ONNX imports no torch."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from pipelines.modeling.kinds.transformer import TransformerClassifier  # noqa: E402
from pipelines.modeling.registry import load_classifier  # noqa: E402
from pipelines.modeling.training import build  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .helpers import LABELS, PHRASES, make_tiny_bert, synthetic  # noqa: E402

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A transformer, a quoted-items model (routed: one label by the lexicon) and an ensemble of them,
    trained on the tiny BERT and saved."""
    root = tmp_path_factory.mktemp("backends")
    (root / "bert").mkdir()
    base = make_tiny_bert(root / "bert")
    texts, y = synthetic(40, seed=1)
    common = {"base_model": base, "max_length": 32, "batch_size": 8, "num_threads": 1}
    transformer = TransformerClassifier("harm_type", LABELS, common | {"stride": 8, "epochs": 20, "patience": 20})
    transformer.fit(texts, y).save(root / "harm_type" / "transformer")
    quotes = root / "quotes.jsonl"
    quotes.write_text(
        "".join(
            json.dumps({"review_id": "x", "harm_type": [{"label": label, "evidence": phrase}]}) + "\n"
            for label, phrases in PHRASES.items()
            for phrase in phrases
        )
    )
    quoted = build(
        "quoted_items", "harm_type", LABELS, common | {"max_item_tokens": 16, "quotes": [str(quotes)]}, LABELS[:2]
    )
    quoted.fit(texts, y).save(root / "harm_type" / "quoted_items")
    ensemble = build("ensemble", "harm_type", LABELS, {"members": ["transformer", "quoted_items"]}, models_dir=root)
    ensemble.fit(texts, y).save(root / "harm_type" / "ensemble")
    return root, texts


@pytest.mark.parametrize("kind", ["transformer", "quoted_items", "ensemble"])
def test_both_backends_give_the_same_scores_labels_and_evidence(saved, kind):
    root, texts = saved
    probe = texts[:12] + [" ".join(texts[:30])]  # a long document: many windows and items
    onnx, torch_ = (load_classifier(root / "harm_type" / kind, backend) for backend in ("onnx", "torch"))
    assert onnx.predict_proba(probe).shape == (len(probe), len(LABELS))
    a, b = onnx.score(probe), torch_.score(probe)
    np.testing.assert_allclose(a.proba, b.proba, atol=TOLERANCE)
    assert (onnx.decide(a.proba) == torch_.decide(b.proba)).all()
    for i, text in enumerate(probe):
        assert onnx.evidence(text, LABELS, 3, a.row(i)) == torch_.evidence(text, LABELS, 3, b.row(i))


def test_the_onnx_export_is_byte_stable(saved, tmp_path):
    """Saving the same trained encoder twice writes the same model.onnx: dvc.lock does not change."""
    root, _ = saved
    model = load_classifier(root / "harm_type" / "transformer", "torch")
    model.encoder.model_dir = ""  # force a fresh export rather than a copy of the saved files
    digests = []
    for name in ("a", "b"):
        model.save(tmp_path / name)
        digests.append(hashlib.md5((tmp_path / name / "encoder" / "model.onnx").read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_a_missing_or_broken_export_falls_back_to_torch_with_one_warning(saved, tmp_path, caplog):
    import shutil

    root, texts = saved
    reference = load_classifier(root / "harm_type" / "transformer", "torch").predict_proba(texts[:4])
    for damage in ("missing", "broken"):
        copy = tmp_path / damage
        shutil.copytree(root / "harm_type" / "transformer", copy)
        onnx_file = copy / "encoder" / "model.onnx"
        onnx_file.unlink() if damage == "missing" else onnx_file.write_bytes(b"not an onnx graph")
        with caplog.at_level(logging.WARNING):
            caplog.clear()
            model = load_classifier(copy)
            load_classifier(copy)  # a second load says nothing more
        warnings = [r for r in caplog.records if "ONNX encoder unavailable" in r.getMessage()]
        assert len(warnings) == 1 and str(copy / "encoder") in warnings[0].getMessage()
        assert model.encoder.backend == "torch"
        np.testing.assert_allclose(model.predict_proba(texts[:4]), reference, atol=1e-6)


def test_tagging_with_onnx_imports_neither_torch_nor_scikit_learn(saved):
    root, texts = saved
    code = (
        "import sys; from pipelines.modeling.registry import load_classifier; "
        f"m = load_classifier({str(root / 'harm_type' / 'ensemble')!r}); m.predict_proba({texts[:2]!r}); "
        "print(sorted(n for n in ('torch', 'transformers', 'sklearn', 'skops', 'mlflow') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stderr[-2000:]
