"""Few-shot labels: a learned kind learns the labels it has examples for and assigns the rest through
the lexicon's rules, so no contract label is ever left unpredicted."""

import numpy as np

from pipelines.modeling.kinds.lexicon import LexiconClassifier
from pipelines.modeling.kinds.routed import RoutedClassifier
from pipelines.modeling.kinds.tfidf_linear import TfidfLinearClassifier
from pipelines.modeling.registry import load_classifier
from pipelines.modeling.training import build

from .conftest import ROOT
from .helpers import LABELS, synthetic

FEW = "criminal_exploitation"  # one training example: too few to learn, still to be predicted
ALL = sorted([*LABELS, FEW])


def with_few_shot(n: int, seed: int, every: int) -> tuple[list[str], np.ndarray]:
    texts, y = synthetic(n, seed=seed)
    column = np.zeros((n, 1), dtype=np.int8)
    for i in range(0, n, every):
        texts[i] += " He was drawn into county lines drug running."
        column[i] = 1
    full = np.hstack([y, column])  # columns: LABELS then FEW
    order = [([*LABELS, FEW]).index(label) for label in ALL]
    return texts, full[:, order]


def routed_model() -> RoutedClassifier:
    learned = TfidfLinearClassifier("harm_type", LABELS, {"min_df": 1, "max_features": 2000})
    rules = LexiconClassifier("harm_type", [FEW], {}, lexicon_path=ROOT / "data/lexicon.yaml")
    return RoutedClassifier(learned, rules)


def test_a_few_shot_label_is_predicted_through_its_rules_and_round_trips(tmp_path):
    texts, y = with_few_shot(80, seed=0, every=80)  # a single positive in training
    val_texts, val_y = with_few_shot(30, seed=1, every=5)
    model = routed_model().fit(texts, y, validation=(val_texts, val_y))
    model.tune(val_texts, val_y)
    assert model.labels == ALL and model.meta.kind == "tfidf_linear"
    assert model.meta.extra["routes"][FEW] == "lexicon" and model.meta.extra["routes"]["neglect"] == "learned"
    predicted = model.predict(val_texts)
    few = ALL.index(FEW)
    np.testing.assert_array_equal(predicted[:, few], val_y[:, few])  # every county-lines review, nothing else
    learned = [ALL.index(label) for label in LABELS]
    assert (predicted[:, learned] == val_y[:, learned]).mean() > 0.9

    model.save(tmp_path / "m")
    loaded = load_classifier(tmp_path / "m")
    assert isinstance(loaded, RoutedClassifier) and loaded.labels == ALL
    np.testing.assert_allclose(loaded.predict_proba(val_texts), model.predict_proba(val_texts))
    np.testing.assert_allclose(loaded.thresholds, model.thresholds)
    text = val_texts[0]
    evidence = loaded.evidence(text, [FEW, "neglect"], k=1)
    assert [text[a:b] for a, b in evidence[FEW]] == ["He was drawn into county lines drug running."]


def test_out_of_fold_probabilities_cover_every_label():
    texts, y = with_few_shot(60, seed=2, every=30)
    folds = np.arange(60) % 3
    oof = routed_model().out_of_fold_proba(texts, y, folds, None)
    assert oof.shape == y.shape
    few = ALL.index(FEW)
    assert oof[0, few] > 0 and oof[1, few] == 0  # rules: learn nothing, hold nothing out


def test_build_routes_only_when_some_labels_are_too_rare():
    params = {"min_df": 1, "max_features": 2000}
    plain = build("tfidf_linear", "harm_type", LABELS, params, learnable=LABELS)
    routed = build("tfidf_linear", "harm_type", ALL, params, learnable=LABELS)
    lexicon = build("lexicon", "harm_type", ALL, {"lexicon": str(ROOT / "data/lexicon.yaml")}, learnable=LABELS)
    assert type(plain) is TfidfLinearClassifier and plain.labels == LABELS
    assert isinstance(routed, RoutedClassifier) and routed.rules.labels == [FEW]
    assert type(lexicon) is LexiconClassifier and lexicon.labels == ALL  # the lexicon needs no examples
