"""What the review page and the queue show of a tag row: each label's standing from the corrections on file,
its threshold beside its score, and the uncertainty the queue orders by (closeness to thresholds and
disagreement between ensemble members, computed from the members' scores)."""

import json

import numpy as np

from pipelines.labels.corrections import parse_line
from pipelines.modeling.base import Scores
from pipelines.tagging import member_spread
from pipelines.web.reader_view import label_views, uncertainty

ROW = {
    "review_id": "r1",
    "harm_type": ["neglect"],
    "learning_theme": ["education"],
    "scores": {"harm_type": {"neglect": 0.8, "physical_abuse": 0.45}, "learning_theme": {"education": 0.6}},
    "thresholds": {"harm_type": {"neglect": 0.5, "physical_abuse": 0.5}, "learning_theme": {"education": 0.3}},
    "calibrated": {"harm_type": {"neglect": 0.7, "physical_abuse": 0.2}, "learning_theme": {"education": 0.5}},
    "evidence": {"neglect": [{"text": "a b c", "start": 0, "end": 5}]},
    "disagreement": {"harm_type": 0.3, "learning_theme": 0.1},
}


def line(**fields):
    base = {"review_id": "r1", "annotator": "ana", "date": "2026-11-02", "note": "", "evidence": ""}
    correction, problem = parse_line(json.dumps(base | fields), "x:1")
    assert problem is None, problem
    return correction


def test_each_label_shows_its_score_threshold_and_standing():
    corrections = [
        line(task="harm_type", label="neglect", action="remove", note="not neglect"),
        line(task="harm_type", label="physical_abuse", action="add", evidence="bruises on the baby"),
    ]
    views = label_views(ROW, corrections, {"neglect": "basic needs not met"}, {"neglect": 3})
    harm = {v.label: v for v in views["harm_type"]}
    assert harm["neglect"].given and not harm["neglect"].final and harm["neglect"].status == "rejected"
    assert harm["neglect"].note == "not neglect" and harm["neglect"].quotes == 1 and harm["neglect"].colour == 3
    assert harm["neglect"].meaning == "basic needs not met" and harm["neglect"].likely == 0.7
    assert not harm["physical_abuse"].given and harm["physical_abuse"].final
    assert harm["physical_abuse"].status == "added" and harm["physical_abuse"].by == "ana"
    assert (harm["physical_abuse"].score, harm["physical_abuse"].threshold) == (0.45, 0.5)
    assert views["learning_theme"][0].status == "" and views["learning_theme"][0].final


def test_a_check_is_the_standing_until_a_later_decision():
    check = line(action="checked", labels={"harm_type": ["neglect"], "learning_theme": []})
    later = line(task="learning_theme", label="education", action="remove", note="no", date="2026-11-03")
    views = label_views(ROW, [check, later], {}, {})
    assert {v.label: v.status for v in views["harm_type"]} == {"neglect": "checked", "physical_abuse": ""}
    assert views["learning_theme"][0].status == "rejected" and not views["learning_theme"][0].final


def test_uncertainty_counts_labels_near_their_threshold_and_the_widest_disagreement():
    near, margin, spread = uncertainty(ROW)
    assert near == 1 and abs(margin - 0.05) < 1e-9 and spread == 0.3  # physical_abuse 0.45 vs 0.5


def test_member_spread_is_the_largest_gap_between_members_on_one_label():
    lexicon = Scores(np.array([[0.9, 0.1], [0.5, 0.5]]))
    learned = Scores(np.array([[0.2], [0.4]]))  # a routed part scoring one label only: not a member
    tfidf = Scores(np.array([[0.7, 0.4], [0.5, 0.45]]), parts={"learned": learned})
    ensemble = Scores(np.array([[0.8, 0.25], [0.5, 0.48]]), parts={"lexicon": lexicon, "tfidf": tfidf})
    assert np.allclose(member_spread(ensemble), [0.3, 0.05])
    assert np.allclose(member_spread(Scores(np.array([[0.3, 0.9]]))), [0.0])


def test_a_reader_label_outside_the_models_vocabulary_is_listed_unscored():
    added = line(task="harm_type", label="harmful_sexual_behaviour", action="add", evidence="abuse by a sibling")
    harm = {v.label: v for v in label_views(ROW, [added], {}, {})["harm_type"]}
    assert harm["harmful_sexual_behaviour"].status == "added" and harm["harmful_sexual_behaviour"].final
    assert not harm["harmful_sexual_behaviour"].scored and harm["neglect"].scored


def test_a_label_kept_at_a_check_shows_the_checkers_quote():
    added = line(
        task="harm_type", label="physical_abuse", action="add", evidence="bruises on the baby", date="2026-11-01"
    )
    check = line(action="checked", labels={"harm_type": ["neglect", "physical_abuse"], "learning_theme": []})
    harm = {v.label: v for v in label_views(ROW, [added, check], {}, {})["harm_type"]}
    assert harm["physical_abuse"].status == "checked" and harm["physical_abuse"].note == "bruises on the baby"
    assert harm["neglect"].status == "checked" and harm["neglect"].note == ""
