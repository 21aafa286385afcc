"""Reader-label evaluation on a fixture small enough to compute by hand."""

import numpy as np
import pytest

from pipelines.evaluation.scoring import expand, fold_scores, scores

VOCAB = ["a", "b", "c", "d"]  # d has no support anywhere: it is in no macro average
FREQUENT = ["a", "b"]  # c is few-shot


def test_reader_scores_match_hand_computed_values():
    # model knows only a and c; b is never predicted (a label the model did not learn counts as missed)
    model_pred = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    y_pred = expand(model_pred, ["a", "c"], VOCAB)
    assert y_pred.tolist() == [[1, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 1, 0]]
    y_true = np.array([[1, 1, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 1, 0]])
    result = scores(y_true, y_pred, VOCAB, FREQUENT)
    # a: TP 1 (r0), FP 1 (r1), FN 1 (r2) -> F1 2/4 = 0.5;  b: TP 0, FN 2 -> 0;  c: TP 2 -> 1.0
    assert [result["per_label"][k]["f1"] for k in "abc"] == [0.5, 0.0, 1.0]
    # micro: TP 3, FP 1, FN 3 -> 6 / 10
    assert result["micro_f1"] == 0.6
    assert result["macro_f1"] == 0.5  # (0.5 + 0 + 1) / 3: labels with support only
    assert result["macro_f1_frequent"] == 0.25  # (0.5 + 0) / 2
    assert result["few_shot"] == {"micro_f1": 1.0, "macro_f1": 1.0, "support": {"c": 2}}
    # samples: r0 2*1/(2+1)=0.667, r1 2*1/(1+2)=0.667, r2 0, r3 2*1/(2+1)=0.667 -> 0.5
    assert result["samples_f1"] == 0.5


def test_fold_scores_average_the_folds_and_pool_the_per_label_table():
    y_true = np.array([[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]])
    y_pred = np.array([[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0]])
    folds = np.array([0, 0, 1, 1])
    result = fold_scores(y_true, y_pred, folds, VOCAB, FREQUENT)
    # fold 0: a TP 1, FN 1 -> micro 2/3; fold 1: b TP 2 -> 1.0; mean 0.8333, sd 0.1667
    assert result["micro_f1"] == pytest.approx(0.8333, abs=2e-4) and result["folds"] == 2
    assert result["micro_f1_sd"] == pytest.approx(0.1667, abs=2e-4)
    assert result["per_label"]["a"]["support"] == 2 and result["per_label"]["a"]["f1"] == 0.6667
