"""Per-label calibration: ECE as defined in the one scorer, calibrators that are monotone and improve a
miscalibrated model, calibrated thresholds that keep every decision, and calibrators that travel with
the model (meta.json, load, refit) and the train stage's figures."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipelines.dataset import SplitData, TaskData
from pipelines.evaluation.calibration import (
    apply_calibrator,
    cross_fitted_calibration,
    fit_calibration,
    fit_isotonic,
    fit_platt,
)
from pipelines.evaluation.scoring import calibration_scores, expected_calibration_error, reliability_bins
from pipelines.modeling.base import OPERATING_POINTS
from pipelines.modeling.kinds.lexicon import LexiconClassifier
from pipelines.modeling.registry import load_classifier

from .conftest import ROOT
from .helpers import LABELS, synthetic

LEXICON = {"lexicon": str(ROOT / "data/lexicon.yaml")}


def test_ece_matches_hand_computed_values():
    # one score per bin: |0.05 - 1|, |0.15 - 0|, |0.95 - 1|, |0.65 - 0|, each weighted 1/4
    assert expected_calibration_error(np.array([1, 0, 1, 0]), np.array([0.05, 0.15, 0.95, 0.65])) == pytest.approx(0.45)
    # bin [0.1, 0.2) holds 3 scores (mean 0.44/3, 1 of 3 true), bin [0.8, 0.9) one (0.81, true):
    # 3/4 * |0.44/3 - 1/3| + 1/4 * |0.81 - 1| = 0.14 + 0.0475
    y, p = np.array([1, 0, 0, 1]), np.array([0.12, 0.18, 0.14, 0.81])
    assert expected_calibration_error(y, p) == pytest.approx(0.1875)
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0  # 1.0 falls in the last bin
    assert expected_calibration_error(np.array([1, 0]), np.array([0.3, 0.3]), bins=2) == pytest.approx(0.2)
    table = reliability_bins(y, p)
    assert table["count"].tolist() == [0, 3, 0, 0, 0, 0, 0, 0, 1, 0]
    # pooled over the cells of both labels vs the mean of each label's own ECE
    matrix_y, matrix_p = np.array([[1, 0], [0, 0]]), np.array([[0.95, 0.25], [0.05, 0.45]])
    figures = calibration_scores(matrix_y, matrix_p, ["a", "b"])
    assert figures["per_label_ece"] == {"a": 0.05, "b": 0.35}
    assert figures["ece_mean_per_label"] == pytest.approx(0.2) and figures["ece"] == pytest.approx(0.2)


def miscalibrated(n: int = 600, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels drawn with probability q, scores that overstate it (q ** 0.3): the shape of a model
    with balanced class weights."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0, 0.6, size=(n, 2))
    y = (rng.random((n, 2)) < q).astype(np.int8)
    return y, q**0.3, np.arange(n) % 5


def test_calibrators_are_strictly_increasing_and_fix_a_miscalibrated_model():
    y, raw, folds = miscalibrated()
    grid = np.linspace(0, 1, 2001)
    for fitted in (fit_platt(raw[:, 0], y[:, 0]), fit_isotonic(raw[:, 0], y[:, 0])):
        assert np.all(np.diff(apply_calibrator(fitted, grid)) > 0), fitted["method"]
        json.dumps(fitted)  # a small JSON form
    calibration = fit_calibration(y, raw, folds, ["a", "b"])
    assert {c["method"] for c in calibration.values()} <= {"platt", "isotonic"}
    honest = cross_fitted_calibration(y, raw, folds, ["a", "b"])  # scored by calibrators that never saw them
    before, after = expected_calibration_error(y, raw), expected_calibration_error(y, honest)
    assert before > 0.15 and after < before / 3


def test_few_positives_share_a_pooled_map_and_unsupported_labels_keep_the_raw_score():
    y, raw, folds = miscalibrated()
    y = np.hstack([y, np.zeros((len(y), 1), dtype=np.int8)])
    y[:4, 1] = 1
    y[4:, 1] = 0
    raw = np.hstack([raw, raw[:, :1]])
    calibration = fit_calibration(y, raw, folds, ["a", "few", "none"], min_positives=10)
    assert calibration["few"]["fit"] == "pooled" and calibration["few"]["pooled_over"] == ["few"]
    assert calibration["none"]["method"] == "identity"
    assert calibration["a"]["fit"] == "label" and set(calibration["a"]["cv_log_loss"]) == {
        "identity",
        "platt",
        "isotonic",
    }


def lexicon_model(seed: int = 0) -> tuple[LexiconClassifier, np.ndarray]:
    """A lexicon model with tuned-looking thresholds at every operating point and fitted calibrators."""
    model = LexiconClassifier("harm_type", LABELS, LEXICON)
    model.meta.thresholds = [0.5, 0.325, 0.75]
    model.meta.extra["operating_points"] = {"recall": [0.4, 0.3, 0.5], "precision": [0.6, 0.45, 0.875]}
    y, raw, folds = miscalibrated(seed=seed)
    raw = np.hstack([raw, raw[:, :1] ** 2])
    y = np.hstack([y, y[:, :1]])
    model.meta.extra["calibration"] = fit_calibration(y, raw, folds, model.labels)
    return model, raw


def test_calibrated_thresholds_give_exactly_the_raw_decisions():
    model, raw = lexicon_model()
    # scores on, and one float step either side of, every threshold (scaled too): where rounding bites
    edges = [model.thresholds_at(point) * scale for point in OPERATING_POINTS for scale in (1.0, 0.8, 1.5)]
    near = np.vstack([np.nextafter(e, target) for e in edges for target in (-np.inf, np.inf)] + edges)
    proba = np.clip(np.vstack([raw, near, [[0.0] * 3, [1.0] * 3]]), 0, 1)
    for scale in (1.0, 0.8, 1.5, 10.0):
        calibrated = model.calibrate(proba, scale)
        for point in OPERATING_POINTS:
            decided = model.decide(proba, scale, point).astype(bool)
            assert np.array_equal(calibrated >= model.calibrated_thresholds(point, scale), decided), (point, scale)
    per_document = np.where(np.arange(len(proba)) % 2 == 0, 1.0, 1.5)  # long documents' own scale
    calibrated = model.calibrate(proba, per_document)
    for point in OPERATING_POINTS:
        limits = model.calibrated_thresholds(point, per_document)
        decided = np.vstack([model.decide(proba[i : i + 1], s, point) for i, s in enumerate(per_document)])
        assert limits.shape == proba.shape and np.array_equal(calibrated >= limits, decided.astype(bool))
    assert not np.allclose(calibrated, proba)  # calibration did change the scores


def test_calibrators_round_trip_through_meta_json_and_old_models_read_raw(tmp_path):
    model, raw = lexicon_model()
    model.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m/meta.json").read_text())
    assert set(saved["extra"]["calibration"]) == set(LABELS)
    loaded = load_classifier(tmp_path / "m")
    np.testing.assert_array_equal(loaded.calibrate(raw), model.calibrate(raw))
    np.testing.assert_array_equal(loaded.calibrated_thresholds("recall"), model.calibrated_thresholds("recall"))
    del saved["extra"]["calibration"]  # a model saved before calibration existed
    (tmp_path / "m/meta.json").write_text(json.dumps(saved))
    old = load_classifier(tmp_path / "m")
    np.testing.assert_array_equal(old.calibrate(raw), raw)
    np.testing.assert_array_equal(old.calibrated_thresholds(), old.thresholds)


def test_refit_keeps_the_recipes_calibrators(tmp_path):
    from pipelines.modeling.refit import refit

    model, _ = lexicon_model()
    model.save(tmp_path / "models/harm_type/lexicon")
    texts, y = synthetic(30, seed=3)
    data = TaskData("harm_type", LABELS, {"train": SplitData([], texts, y, np.zeros(30, dtype=int))})
    out = refit("harm_type", "lexicon", data, 5, tmp_path / "models", tmp_path / "refit")
    assert load_classifier(out).calibration == model.calibration


def tiny_data() -> TaskData:
    texts, y = synthetic(60, seed=0)
    val_texts, val_y = synthetic(20, seed=1)
    return TaskData(
        "harm_type",
        LABELS,
        {
            "train": SplitData([], texts, y, np.arange(60) % 3),
            "validation": SplitData([], val_texts, val_y, np.full(20, -1)),
        },
    )


@pytest.mark.parametrize("cv", [True, False])
def test_train_writes_calibration_figures_that_do_not_change_between_runs(tmp_path, cv):
    from pipelines.modeling.training import CALIBRATION_FILE, RELIABILITY_FILE, train

    runs = []
    for run in ("a", "b"):
        out = tmp_path / run
        model = train("lexicon", "harm_type", LEXICON, cv, "t", out / "model", tiny_data(), calibration_dir=out / "cal")
        report = json.loads((out / "cal" / CALIBRATION_FILE).read_text())
        runs.append(((out / "cal" / RELIABILITY_FILE).read_bytes(), report))
    (png_a, report), (png_b, report_b) = runs
    assert png_a == png_b and png_a[:4] == b"\x89PNG" and report == report_b
    assert report["decisions_unchanged"] == ({"validation": True, "cv": True} if cv else {"validation": True})
    assert ("cv" in report) == cv and ("calibration" in model.meta.extra) == cv
    validation = report["validation"]
    if cv:
        assert set(model.calibration) == set(LABELS)
    else:  # nothing to calibrate on: the calibrated column is the raw one
        assert validation["raw"] == validation["calibrated"]
