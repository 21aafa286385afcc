"""The transformer kind on a tiny randomly initialised BERT built here: no download, seconds to run."""

import numpy as np
import pytest

from pipelines.text import split_sentences

torch = pytest.importorskip("torch")

from pipelines.modeling.encoders import forget_recent_embeddings  # noqa: E402
from pipelines.modeling.heads import pool  # noqa: E402
from pipelines.modeling.kinds.ensemble import EnsembleClassifier  # noqa: E402
from pipelines.modeling.kinds.transformer import TransformerClassifier  # noqa: E402
from pipelines.modeling.registry import load_classifier  # noqa: E402

from .helpers import LABELS, make_tiny_bert, synthetic  # noqa: E402


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return make_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


def params(base: str, **over):
    return {
        "base_model": base,
        "max_length": 32,
        "stride": 8,
        "epochs": 60,
        "patience": 60,
        "batch_size": 16,
        "learning_rate": 0.05,
        "quantize_int8": False,
        "num_threads": 1,
        "seed": 3,
    } | over


def test_window_aggregation():
    proba = np.array([[0.1, 0.9], [0.7, 0.2], [0.4, 0.4]])
    owner = np.array([0, 0, 1])
    np.testing.assert_allclose(pool(proba, owner, 2, "max"), [[0.7, 0.9], [0.4, 0.4]])
    np.testing.assert_allclose(pool(proba, owner, 2, "mean"), [[0.4, 0.55], [0.4, 0.4]])


def test_long_document_is_windowed_not_truncated(tiny_bert):
    model = TransformerClassifier("harm_type", LABELS, params(tiny_bert))
    long_text = " ".join(["The school raised concerns."] * 60 + ["There was rape disclosed to a teacher."])
    windows = model.windows(long_text)
    assert len(windows) > 5 and all(len(w) <= 32 for w in windows)
    tail_ids = model.encoder.tokenizer("rape disclosed", add_special_tokens=False)["input_ids"]
    assert any(tail_ids[0] in w for w in windows[-2:])  # the end of the document is read
    capped = TransformerClassifier("harm_type", LABELS, params(tiny_bert, max_windows=3), encoder=None)
    assert len(capped.windows(long_text)) == 3 and capped.encoder.capped == 1


def test_tiny_training_round_trip_and_determinism(tiny_bert, tmp_path):
    texts, y = synthetic(60, seed=0)
    val_texts, val_y = synthetic(20, seed=1)
    model = TransformerClassifier("harm_type", LABELS, params(tiny_bert)).fit(texts, y, validation=(val_texts, val_y))
    model.tune(val_texts, val_y)
    proba = model.predict_proba(val_texts)
    assert proba.shape == (20, 3) and np.all((proba >= 0) & (proba <= 1))
    from pipelines.evaluation.scoring import scores

    assert scores(val_y, model.decide(proba), LABELS)["micro_f1"] > 0.6
    model.save(tmp_path / "tr")
    assert (tmp_path / "tr" / "head.safetensors").exists()
    assert (tmp_path / "tr" / "encoder" / "model.safetensors").exists()
    loaded = load_classifier(tmp_path / "tr")
    np.testing.assert_allclose(loaded.thresholds, model.thresholds)
    np.testing.assert_allclose(loaded.predict_proba(val_texts), proba, atol=1e-5)
    np.testing.assert_array_equal(loaded.predict_proba(val_texts), loaded.predict_proba(val_texts))
    again = TransformerClassifier("harm_type", LABELS, params(tiny_bert)).fit(texts, y, validation=(val_texts, val_y))
    np.testing.assert_allclose(again.predict_proba(val_texts), proba, atol=1e-6)  # seeded training


def test_ensemble_averages_members(tiny_bert, tmp_path):
    from pipelines.modeling.kinds.tfidf_linear import TfidfLinearClassifier

    texts, y = synthetic(50)
    root = tmp_path / "models" / "harm_type"
    TfidfLinearClassifier("harm_type", LABELS, {"min_df": 1}).fit(texts, y).save(root / "tfidf_linear")
    TransformerClassifier("harm_type", LABELS, params(tiny_bert, epochs=5)).fit(texts, y).save(root / "transformer")
    members = {"members": ["transformer", "tfidf_linear"], "weights": [1.0, 3.0]}
    ensemble = EnsembleClassifier("harm_type", LABELS, members, models_dir=tmp_path / "models").fit(texts, y)
    expected = (
        ensemble.members["transformer"].predict_proba(texts[:5])
        + 3 * ensemble.members["tfidf_linear"].predict_proba(texts[:5])
    ) / 4
    np.testing.assert_allclose(ensemble.predict_proba(texts[:5]), expected)
    ensemble.save(tmp_path / "ens")
    np.testing.assert_allclose(load_classifier(tmp_path / "ens").predict_proba(texts[:5]), expected, atol=1e-6)
    # evidence comes from the cheap member first, and is made of the document's own sentences
    calls = []
    transformer_evidence = ensemble.members["transformer"].evidence
    ensemble.members["transformer"].evidence = lambda *a, **k: calls.append(a) or transformer_evidence(*a, **k)
    found = ensemble.evidence(texts[0], LABELS, k=2)
    assert set(found) == set(LABELS) and all(found.values()) and calls == []
    sentences = set(split_sentences(texts[0]))
    assert all(texts[0][a:b] in sentences for spans in found.values() for a, b in spans)


def test_fewer_layers_round_trip(tiny_bert, tmp_path):
    texts, y = synthetic(30, seed=0)
    model = TransformerClassifier("harm_type", LABELS, params(tiny_bert, num_layers=1, epochs=3)).fit(texts, y)
    assert len(model.encoder.model.encoder.layer) == 1
    full = TransformerClassifier("harm_type", LABELS, params(tiny_bert, epochs=3))
    assert len(full.encoder.model.encoder.layer) == 2
    assert not np.allclose(model.encode(texts[:3])[0], full.encode(texts[:3])[0])
    model.save(tmp_path / "one")
    loaded = load_classifier(tmp_path / "one", backend="torch")
    assert len(loaded.encoder.model.encoder.layer) == 1
    np.testing.assert_allclose(loaded.predict_proba(texts[:5]), model.predict_proba(texts[:5]), atol=1e-5)
    exported = load_classifier(tmp_path / "one")  # the default backend runs the ONNX export of the cut model
    assert exported.encoder.backend == "onnx"
    np.testing.assert_allclose(exported.predict_proba(texts[:5]), model.predict_proba(texts[:5]), atol=1e-5)


def test_listing_kinds_does_not_import_torch():
    """The registry imports every kind module to list kinds; that must stay cheap (no torch)."""
    import subprocess
    import sys

    code = "import sys, pipelines.modeling.registry as r; r.kinds(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_training_encodes_each_text_once_and_twins_share_the_cache(tiny_bert):
    """Fit, early stopping, threshold tuning and every cross-validation fold share one EmbeddingCache."""
    texts, y = synthetic(40, seed=4)
    val_texts, val_y = synthetic(12, seed=5)
    model = TransformerClassifier("harm_type", LABELS, params(tiny_bert, epochs=3))
    encoded = []
    original = model.encoder.embed_windows
    model.encoder.embed_windows = lambda windows, progress=False: encoded.append(len(windows)) or original(windows)
    model.fit(texts, y, validation=(val_texts, val_y))
    model.tune(val_texts, val_y)
    folds = np.arange(len(texts)) % 3
    oof = model.out_of_fold_proba(texts, y, folds, (val_texts, val_y))
    assert oof.shape == y.shape and model.fresh().cache is model.cache
    new_in_validation = [t for t in val_texts if t not in set(texts)]
    expected = sum(len(model.windows(t)) for t in texts + new_in_validation)
    assert len(encoded) == 2 and sum(encoded) == expected  # train, then validation; nothing again


def test_a_review_scores_the_same_alone_among_others_and_after_other_calls(tiny_bert, tmp_path):
    texts, y = synthetic(30, seed=6)
    TransformerClassifier("harm_type", LABELS, params(tiny_bert, epochs=5)).fit(texts, y).save(tmp_path / "m")
    loaded = load_classifier(tmp_path / "m")
    probe, others = synthetic(12, seed=7)[0], synthetic(5, seed=8)[0]
    alone = loaded.predict_proba(probe[:1])
    loaded.predict_proba(others)
    forget_recent_embeddings()
    loaded.predict_proba(probe[1:])
    np.testing.assert_array_equal(loaded.predict_proba(probe[:1]), alone)  # after other calls
    np.testing.assert_allclose(loaded.predict_proba(probe)[:1], alone, atol=1e-5)  # among others
    np.testing.assert_array_equal(loaded.score(probe).proba, loaded.predict_proba(probe))
