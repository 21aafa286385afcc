import json

import numpy as np
import pytest

from pipelines.evaluation.scoring import scores
from pipelines.evaluation.temporal import choose_champion
from pipelines.modeling.base import tune_thresholds
from pipelines.modeling.kinds.lexicon import LexiconClassifier
from pipelines.modeling.kinds.tfidf_linear import TfidfLinearClassifier
from pipelines.modeling.registry import load_classifier
from pipelines.text import split_sentences

from .conftest import ROOT, use_project
from .helpers import LABELS, synthetic


def test_metrics_match_hand_computed_values():
    y_true = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    y_pred = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    result = scores(y_true, y_pred, ["a", "b"])
    # label a: tp1 fp1 fn1 -> P .5 R .5 F1 .5 ; label b: tp2 fp0 fn0 -> 1.0 ; micro tp3 fp1 fn1 -> 0.75
    assert result["per_label"]["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert result["per_label"]["b"]["f1"] == 1.0
    assert result["micro_f1"] == 0.75 and result["macro_f1"] == 0.75
    # samples: [1, 2/3, 1 (empty/empty), 2/3] -> 0.8333
    assert result["samples_f1"] == pytest.approx(0.8333, abs=1e-4)


def test_threshold_tuning_improves_validation_f1():
    rng = np.random.default_rng(1)
    y = (rng.random((200, 2)) < 0.2).astype(int)
    proba = np.clip(0.15 + 0.2 * y + rng.normal(0, 0.05, y.shape), 0, 1)  # positives sit below 0.5
    before = scores(y, proba >= 0.5, ["a", "b"])["micro_f1"]
    tuned = tune_thresholds(y, proba)
    after = scores(y, proba >= tuned, ["a", "b"])["micro_f1"]
    assert before == 0.0 and after > 0.9
    assert np.all(tuned < 0.5)


@pytest.mark.parametrize("cls", [LexiconClassifier, TfidfLinearClassifier])
def test_tiny_training_and_round_trip(cls, tmp_path):
    texts, y = synthetic(80, seed=0)
    val_texts, val_y = synthetic(30, seed=1)
    extra = {"lexicon_path": ROOT / "data/lexicon.yaml"} if cls is LexiconClassifier else {}
    params = {} if cls is LexiconClassifier else {"min_df": 1, "max_features": 2000}
    model = cls("harm_type", LABELS, params, **extra).fit(texts, y)
    model.tune(val_texts, val_y)
    assert scores(val_y, model.predict(val_texts), LABELS)["micro_f1"] >= 0.8
    model.save(tmp_path / "m")
    loaded = load_classifier(tmp_path / "m")
    assert loaded.labels == LABELS and loaded.meta.label2id == {label: i for i, label in enumerate(LABELS)}
    np.testing.assert_allclose(loaded.predict_proba(val_texts), model.predict_proba(val_texts))
    np.testing.assert_allclose(loaded.thresholds, model.thresholds)
    evidence = loaded.evidence(val_texts[0], LABELS, k=2)
    sentences = set(split_sentences(val_texts[0]))
    for label, spans in evidence.items():
        assert all(val_texts[0][a:b] in sentences for a, b in spans), label
    assert not list((tmp_path / "m").glob("*.pkl")) and not list((tmp_path / "m").glob("*.joblib"))


def test_tfidf_arrays_give_scikit_learns_probabilities_without_importing_it(tmp_path):
    """The saved TF-IDF model is JSON + float arrays, applied with numpy: the same probabilities as the
    scikit-learn pipeline it came from (accents, ligatures, odd whitespace, short words, empty text,
    a label seen with one class only), and loading it in a fresh process imports no scikit-learn."""
    import subprocess
    import sys

    from pipelines.config import TfidfConfig
    from pipelines.modeling.kinds.tfidf_linear import build_pipeline
    from pipelines.modeling.tfidf_arrays import TfidfArrays

    texts, y = synthetic(60)
    texts += ["Café naïve ﬁ résumé — ‘quoted’\tta b  c\n\nd", "x", ""]
    y = np.vstack([y, [[1, 0, 0], [0, 1, 0], [0, 0, 1]]])
    y[:, 2] = 1  # one class only: scikit-learn keeps a constant predictor for it
    pipeline = build_pipeline({"min_df": 1} | {k: v for k, v in vars(TfidfConfig()).items() if k != "min_df"})
    pipeline.fit(texts, y)
    arrays = TfidfArrays.from_sklearn(pipeline)
    np.testing.assert_allclose(arrays.predict_proba(texts), pipeline.predict_proba(texts), atol=1e-12)
    model = TfidfLinearClassifier("harm_type", LABELS, {"min_df": 1}).fit(texts, y)
    model.save(tmp_path / "m")
    assert {p.name for p in (tmp_path / "m").iterdir()} == {"meta.json", "tfidf.json", "tfidf.safetensors"}
    code = (
        "import sys; from pipelines.modeling.registry import load_classifier; "
        f"m = load_classifier({str(tmp_path / 'm')!r}); print(m.predict_proba(['x'])[0].tolist()); "
        "print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[1] == "False"
    np.testing.assert_allclose(json.loads(out[0]), model.predict_proba(["x"])[0], atol=1e-12)


def test_champion_is_chosen_on_cv_or_validation_never_test():
    def reader(value: float) -> dict:  # the champion is chosen on reader labels; keyword scores never decide
        return {"reader": {"macro_f1": value}, "keyword": {"macro_f1": 1.0 - value}}

    metrics = {
        "lexicon": {"cv": reader(0.68), "validation": reader(0.70), "test": reader(0.50)},
        "tfidf_linear": {"cv": reader(0.55), "validation": reader(0.75), "test": reader(0.90)},
        "ensemble": {"validation": reader(0.80), "test": reader(0.95)},  # no CV: cannot win on cv
    }
    assert choose_champion(metrics, "macro_f1", "cv") == ("lexicon", "cv macro_f1")
    assert choose_champion(metrics, "macro_f1", "validation") == ("ensemble", "validation macro_f1")
    no_cv = {kind: {k: v for k, v in result.items() if k != "cv"} for kind, result in metrics.items()}
    assert choose_champion(no_cv, "macro_f1", "cv") == ("ensemble", "validation macro_f1")


def test_mlflow_logging_registry_alias_and_idempotence(tmp_path, monkeypatch):
    from pipelines import tracking
    from pipelines.config import TrackingConfig

    use_project(tmp_path, monkeypatch)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    texts, y = synthetic(40)
    model = TfidfLinearClassifier("harm_type", LABELS, {"min_df": 1}).fit(texts, y)
    model.save(tmp_path / "models/harm_type/tfidf_linear")
    config = TrackingConfig(uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_root=str(tmp_path / "artifacts"))
    tracking.configure(config)
    metrics = {"validation": scores(y, model.predict(texts), LABELS)}
    first = tracking.log_model_run(
        "harm_type", "tfidf_linear", tmp_path / "models/harm_type/tfidf_linear", metrics, [], config
    )
    again = tracking.log_model_run(
        "harm_type", "tfidf_linear", tmp_path / "models/harm_type/tfidf_linear", metrics, [], config
    )
    assert first["new"] and not again["new"] and again["run_id"] == first["run_id"]
    tracking.set_alias("harm_type", "tfidf_linear", first["version"], "champion")
    # no dvc.lock here, so the logged files' md5 is "unknown"; the SQLite reader and MlflowClient agree
    expected = ("tfidf_linear", first["version"], "unknown")
    assert tracking.get_alias("harm_type", "champion") == expected
    assert tracking.get_alias("harm_type", "champion", config.uri) == expected
    import mlflow

    run = mlflow.get_run(first["run_id"])
    assert run.data.metrics["validation_micro_f1"] == metrics["validation"]["micro_f1"]
    assert run.data.params["kind"] == "tfidf_linear"
    local = tracking.download_model_dir("models:/harm_type-tfidf_linear@champion", tmp_path / "dl")
    assert json.loads((local / "meta.json").read_text())["labels"] == LABELS
    pyfunc = mlflow.pyfunc.load_model("models:/harm_type-tfidf_linear@champion")
    import pandas as pd

    out = pyfunc.predict(pd.DataFrame({"text": texts[:3]}))
    assert list(out.columns) == LABELS and out.shape == (3, 3)


def test_cv_is_out_of_fold_and_the_ensemble_gets_it_from_its_members(tmp_path, monkeypatch):
    from pipelines.dataset import SplitData, TaskData
    from pipelines.modeling.base import CV_PROBA_FILE
    from pipelines.modeling.training import train

    use_project(tmp_path, monkeypatch)  # the ensemble finds its members under <root>/models/<task>
    texts, y = synthetic(60, seed=0)
    val_texts, val_y = synthetic(20, seed=1)
    folds = np.arange(60) % 3
    data = TaskData(
        "harm_type",
        LABELS,
        {"train": SplitData([], texts, y, folds), "validation": SplitData([], val_texts, val_y, np.full(20, -1))},
    )
    tfidf_params = {"min_df": 1, "max_features": 2000, "char_ngram_max": 0}
    root = tmp_path / "models" / "harm_type"
    tfidf = train("tfidf_linear", "harm_type", tfidf_params, True, "t", root / "tfidf_linear", data)
    lexicon = train(
        "lexicon", "harm_type", {"lexicon": str(ROOT / "data/lexicon.yaml")}, True, "t", root / "lexicon", data
    )
    oof_tfidf = np.load(root / "tfidf_linear" / CV_PROBA_FILE)
    assert oof_tfidf.shape == y.shape and tfidf.meta.extra["cv"]["folds"] == 3
    # out of fold: a twin that never saw a review scores it differently from the model fitted on it
    assert not np.allclose(oof_tfidf, tfidf.predict_proba(texts))
    ensemble_params = {"members": ["lexicon", "tfidf_linear"], "weights": [1.0, 3.0]}
    ensemble = train("ensemble", "harm_type", ensemble_params, True, "t", root / "ensemble", data)
    expected = (np.load(root / "lexicon" / CV_PROBA_FILE) + 3 * oof_tfidf) / 4
    np.testing.assert_allclose(np.load(root / "ensemble" / CV_PROBA_FILE), expected)
    # harms apply their recall (F2) thresholds unless told otherwise (train.default_operating_points)
    assert {m.default_operating_point for m in (tfidf, lexicon, ensemble)} == {"recall"}
    np.testing.assert_array_equal(tfidf.thresholds_at("default"), tfidf.thresholds_at("recall"))
    cv = ensemble.meta.extra["cv"]  # the one scorer's fold summary: mean and sd over the folds
    assert cv["macro_f1"] > 0.5 and cv["macro_f1_sd"] >= 0 and lexicon.meta.extra["cv"]["folds"] == 3
    # without the members' CV files the ensemble has no CV (and so cannot win on cv)
    (root / "tfidf_linear" / CV_PROBA_FILE).unlink()
    assert "cv" not in train("ensemble", "harm_type", ensemble_params, True, "t", root / "ens2", data).meta.extra


def test_validation_is_also_scored_with_thresholds_it_never_set(tmp_path):
    from pipelines.dataset import SplitData, TaskData
    from pipelines.evaluation.temporal import cross_validation
    from pipelines.modeling.base import CV_PROBA_FILE

    class Fixed:  # a model whose validation probabilities are given
        labels, thresholds = ["neglect"], np.array([0.5])

        def __init__(self, proba):
            self.proba = proba

        def predict_proba(self, texts):
            return self.proba

        def decide(self, proba):
            return (proba >= self.thresholds).astype(np.int8)

    y = np.array([[1], [0], [1], [0]])
    ids = ["a", "b", "c", "d"]
    data = TaskData("harm_type", ["neglect"], {"train": SplitData(ids, [""] * 4, y, np.arange(4) % 2, y)})
    data.splits["validation"] = SplitData(ids, [""] * 4, y, np.full(4, -1), 1 - y)
    oof = np.array([[0.9], [0.7], [0.9], [0.7]])  # on train, only a threshold above 0.7 separates
    validation_proba = np.array([[0.6], [0.1], [0.6], [0.1]])  # separable at 0.5, but not above 0.7

    def honest(train_proba):
        np.save(tmp_path / CV_PROBA_FILE, train_proba, allow_pickle=False)
        return cross_validation(Fixed(validation_proba), tmp_path, data, ["neglect"], validation_proba)

    result, problem = honest(oof)
    assert problem is None and result["validation_oof_thresholds"]["reader"]["micro_f1"] == 0.0
    assert result["cv"]["reader"]["micro_f1"] == 0.5  # oof >= 0.5 everywhere: 2 TP, 2 FP
    assert honest(validation_proba)[0]["validation_oof_thresholds"]["reader"]["micro_f1"] == 1.0
    assert honest(validation_proba)[0]["validation_oof_thresholds"]["keyword"]["micro_f1"] == 0.0
    stale, problem = honest(oof[:3])  # a stale model's file
    assert stale == {} and "stale" in problem


def test_operating_points_are_tuned_on_validation_and_saved(tmp_path):
    """recall (F2) thresholds give at least the balanced (F1) ones' recall, precision (F0.5) at least
    their precision, on the data they were tuned on; a model saved without them falls back to balanced."""
    from pipelines.modeling.base import tune_thresholds

    texts, y = synthetic(80, seed=3)
    model = TfidfLinearClassifier("harm_type", LABELS, {"min_df": 1}).fit(texts[:50], y[:50])
    model.tune(texts[50:], y[50:])
    model.save(tmp_path / "m")
    loaded = load_classifier(tmp_path / "m")
    proba = loaded.predict_proba(texts[50:])
    truth = y[50:].astype(bool)
    recall = {
        op: (loaded.decide(proba, operating_point=op).astype(bool) & truth).sum() for op in ("balanced", "recall")
    }
    assert recall["recall"] >= recall["balanced"]
    assert set(loaded.meta.extra["operating_points"]) == {"recall", "precision"}
    np.testing.assert_array_equal(tune_thresholds(y[50:], proba, beta=1.0), loaded.thresholds)
    # `default` is the model's own point; a model saved without one applies its balanced thresholds
    assert loaded.default_operating_point == "balanced"
    np.testing.assert_array_equal(loaded.decide(proba), loaded.decide(proba, operating_point="balanced"))
    loaded.meta.extra["default_operating_point"] = "precision"
    np.testing.assert_array_equal(loaded.thresholds_at(), loaded.thresholds_at("precision"))
    np.testing.assert_array_equal(loaded.decide(proba), loaded.decide(proba, operating_point="precision"))
    del loaded.meta.extra["operating_points"]
    np.testing.assert_array_equal(loaded.thresholds_at("recall"), loaded.thresholds)
    with pytest.raises(ValueError, match="operating point"):
        loaded.decide(proba, operating_point="aggressive")


def test_the_operating_point_names_agree():
    """params.yaml's per-task defaults are validated against config's names, which must be the model's."""
    from pipelines.config import OPERATING_POINT_NAMES, TrainConfig
    from pipelines.modeling.base import OPERATING_POINTS

    assert set(OPERATING_POINT_NAMES) == set(OPERATING_POINTS)
    assert TrainConfig().default_operating_points == {"harm_type": "recall", "learning_theme": "balanced"}
    with pytest.raises(ValueError, match="default_operating_points"):
        TrainConfig(default_operating_points={"harm_type": "aggressive"})
