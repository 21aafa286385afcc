"""Hand-written item examples (data/gold/hand_items): their file contract, the shipped file, a label
with no training review learned from them alone, and the ensemble counting a routed rule once."""

import json

import numpy as np
import pytest

from pipelines.labels.hand_items import known_labels, load_hand_items, positives_per_label
from pipelines.modeling.kinds.ensemble import EnsembleClassifier
from pipelines.modeling.kinds.lexicon import LexiconClassifier
from pipelines.modeling.kinds.routed import RoutedClassifier
from pipelines.modeling.kinds.tfidf_linear import TfidfLinearClassifier
from research.prototype_signal import FOCUS as RARE  # the rare harms issue 21 names

from .conftest import ROOT
from .helpers import LABELS, synthetic

EXPLOITED = [
    "Child M, 15, was made to carry drugs between two cities by older dealers who said he owed them money.",
    "Dealers moved into the flat of a 16-year-old and used it to store and sell heroin.",
    "A boy of 14 was found in a trap house far from home holding crack cocaine for adults.",
    "The young person was forced to deliver drugs to pay off a debt to a gang.",
    "Older teenagers groomed the boy with trainers and money before making him sell cannabis.",
    "He was picked up in a seaside town with wraps of class A drugs hidden on him.",
    "Adults used the 13-year-old to run drugs and threatened his family when he tried to stop.",
    "The girl was made to hold knives and drugs for an older group in return for protection.",
    "Child R was trafficked across the country by a drugs line and reported missing many times.",
    "A 15-year-old was coerced into shoplifting to order by adults who took what he stole.",
]


def _line(**fields) -> str:
    base = {"id": "hi-x-01", "task": "harm_type", "text": "A sentence.", "labels": [], "synthetic": True}
    return json.dumps(base | fields)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (_line(labels=["not_a_label"]), "unknown harm_type label(s) ['not_a_label']"),
        (_line(synthetic=False), "must be marked"),
        (_line(task="themes"), "unknown task 'themes'"),
        (_line(text="  "), "empty text"),
        (_line(labels=["neglect"], not_labels=["neglect"]), "both given and refused"),
        ("{not json", "not JSON"),
    ],
)
def test_a_bad_line_is_an_error_naming_its_file_and_line(tmp_path, line, message):
    source = tmp_path / "items.jsonl"
    source.write_text(_line(id="ok") + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="items.jsonl:3: ") as error:
        load_hand_items([str(source)], "harm_type", known_labels())
    assert message in str(error.value)


def test_a_repeated_id_is_refused(tmp_path):
    source = tmp_path / "items.jsonl"
    source.write_text(_line() + "\n" + _line() + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="items.jsonl:2: repeated id 'hi-x-01'"):
        load_hand_items([str(source)], "harm_type", known_labels())


def test_the_shipped_items_are_synthetic_agreed_and_cover_every_rare_harm():
    """Every line was kept because a blind second reader gave the writer's labels; each rare harm has
    enough positives to be learned (quoted_items.min_hand_items)."""
    source = ROOT / "data/gold/hand_items/items.jsonl"
    items = load_hand_items([str(source)], "harm_type", known_labels())
    raw = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    assert len(items) == len(raw) >= 160
    assert all(row["synthetic"] is True and row["blind_reader"] for row in raw)
    counts = positives_per_label(items)
    assert all(counts[label] >= 10 for label in RARE), counts
    assert sum(1 for item in items if not item.labels) >= 30  # near misses: negatives for every label


def test_a_label_without_training_reviews_is_learned_from_hand_written_items(tmp_path):
    """Criminal exploitation has no training review here: with ten hand-written items it takes the
    learned route in the quoted-items kind (not the lexicon's), and scores a review that describes
    exploitation in words no lexicon pattern holds above one that does not."""
    pytest.importorskip("torch")
    from pipelines.modeling.training import build

    source = tmp_path / "items.jsonl"
    with source.open("w", encoding="utf-8") as out:
        for i, text in enumerate(EXPLOITED):
            out.write(_line(id=f"hi-ce-{i:02d}", text=text, labels=["criminal_exploitation"]) + "\n")
    labels = [*LABELS, "criminal_exploitation"]
    params = {"quotes": [str(ROOT / "data/corrections")], "hand_items": [str(source)], "min_hand_items": 10}
    model = build("quoted_items", "harm_type", labels, params, learnable=LABELS)
    assert not isinstance(model, RoutedClassifier) and model.labels == sorted(labels)  # every label learned
    stricter = build("quoted_items", "harm_type", labels, params | {"min_hand_items": 11}, learnable=LABELS)
    assert stricter.meta.extra["routes"]["criminal_exploitation"] == "lexicon"

    texts, y = synthetic(40, seed=3)
    model.fit(texts, np.hstack([y, np.zeros((len(y), 1), dtype=y.dtype)])[:, np.argsort(labels)])
    assert model.meta.extra["hand_items"]["criminal_exploitation"] == 10
    probe = [
        "The family moved area twice. A 14-year-old boy was found selling heroin for older men in a distant town.",
        "The family moved area twice. There was chronic neglect of basic needs.",
    ]
    proba = model.predict_proba(probe)[:, model.labels.index("criminal_exploitation")]
    assert proba[0] > 0.5 > proba[1]


def routed_members():
    """Labels with one few-shot harm, training texts, a lexicon member and a TF-IDF member that routes
    the few-shot harm to the lexicon's rules (as training builds it)."""
    labels = sorted([*LABELS, "criminal_exploitation"])
    lexicon_path = ROOT / "data/lexicon.yaml"
    texts, y = synthetic(60, seed=0)
    tfidf = RoutedClassifier(
        TfidfLinearClassifier("harm_type", LABELS, {"min_df": 1}).fit(texts, y),
        LexiconClassifier("harm_type", ["criminal_exploitation"], lexicon_path=lexicon_path),
    )
    return labels, texts, LexiconClassifier("harm_type", labels, lexicon_path=lexicon_path), tfidf


def test_the_ensemble_counts_a_routed_rule_once(tmp_path):
    """A member that routes a label to the lexicon repeats the lexicon member's score: that label is
    the mean of the members with a vote of their own, so a learned member is not outvoted by copies."""
    labels, texts, lexicon, tfidf = routed_members()
    ensemble = EnsembleClassifier("harm_type", labels, {"members": ["lexicon", "tfidf_linear"], "weights": [1, 1]})
    ensemble.members = {"lexicon": lexicon, "tfidf_linear": tfidf}
    weights = ensemble.label_weights()
    ce = labels.index("criminal_exploitation")
    assert weights[:, ce].tolist() == [1.0, 0.0]
    assert (weights[:, [j for j in range(len(labels)) if j != ce]] == 1.0).all()
    probe = ["Child D had been drawn into county lines drug running.", texts[0]]
    proba = ensemble.predict_proba(probe)
    np.testing.assert_allclose(proba[:, ce], lexicon.predict_proba(probe)[:, ce])
    others = [j for j in range(len(labels)) if j != ce]
    np.testing.assert_allclose(
        proba[:, others], (lexicon.predict_proba(probe)[:, others] + tfidf.predict_proba(probe)[:, others]) / 2
    )


class FixedScores(LexiconClassifier):
    """A member that learned every label and gives each the same score (its routes are empty)."""

    def __init__(self, labels: list[str], value: float):
        super().__init__("harm_type", labels, lexicon_path=ROOT / "data/lexicon.yaml")
        self.value = value

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), len(self.labels)), self.value)


def test_a_few_shot_label_joins_its_rule_and_its_learned_member_by_noisy_or():
    """Under `few_shot_combination: noisy_or` a pattern match carries a few-shot label on its own and a
    member taught by hand-written items adds to it; labels every member learned keep the mean."""
    labels, texts, lexicon, tfidf = routed_members()
    taught = FixedScores(labels, 0.6)
    members = {"lexicon": lexicon, "tfidf_linear": tfidf, "quoted_items": taught}
    params = {"members": list(members), "weights": [1, 1, 1], "few_shot_combination": "noisy_or"}
    ensemble = EnsembleClassifier("harm_type", labels, params)
    ensemble.members = members
    ce = labels.index("criminal_exploitation")
    assert ensemble.few_shot_columns() == [ce]
    probe = ["Child D had been drawn into county lines drug running.", "The school raised concerns."]
    proba = ensemble.predict_proba(probe)
    rules = lexicon.predict_proba(probe)
    np.testing.assert_allclose(proba[:, ce], 1 - (1 - rules[:, ce]) * 0.4)
    assert proba[0, ce] > rules[0, ce] >= 0.5 and proba[1, ce] == pytest.approx(0.6)
    others = [j for j in range(len(labels)) if j != ce]
    np.testing.assert_allclose(proba[:, others], (rules[:, others] + tfidf.predict_proba(probe)[:, others] + 0.6) / 3)
    ensemble.meta.params["few_shot_combination"] = "mean"
    np.testing.assert_allclose(ensemble.predict_proba(probe)[:, ce], (rules[:, ce] + 0.6) / 2)
