"""The one scorer: per-label precision / recall / F1, micro- and macro-F1 over a stated label set,
fold-level cross-validation, bootstrap intervals and a paired test. Train, audit, evaluate,
compare and the research scripts all score through here, so each metric name means one number:

- `micro_f1`: F1 of the pooled label decisions over every label of the vocabulary;
- `macro_f1`: the mean per-label F1 over the labels **with support** in the truth (a label no
  review carries says nothing about recall, and scoring it 0 would punish a model for the data);
- `macro_f1_frequent` / `few_shot`: the same mean over the well-supported labels / the rest, when
  the caller names which labels are frequent;
- `samples_f1`: mean per-review F1; a review with no true and no predicted label counts 1.0;
- `ece`: expected calibration error over `CALIBRATION_BINS` equal-width bins of [0, 1] (the last bin
  closed), pooled over every (review, label) cell; `ece_mean_per_label`: the mean of each label's own
  ECE over every label of the vocabulary (a label no review carries still has a calibration: its scores
  should be near 0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SUMMARY_METRICS = ("micro_f1", "macro_f1", "macro_f1_frequent", "samples_f1")
CALIBRATION_BINS = 10
LOG_LOSS_CLIP = 1e-6  # a score of exactly 0 or 1 that is wrong costs log(1e6), not infinity


def _counts(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    tp = (y_true & y_pred).sum(axis=0).astype(float)
    fp = (~y_true & y_pred).sum(axis=0).astype(float)
    fn = (y_true & ~y_pred).sum(axis=0).astype(float)
    return tp, fp, fn


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp, dtype=float), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp, dtype=float), where=(tp + fn) > 0)
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp, dtype=float), where=(2 * tp + fp + fn) > 0)
    return precision, recall, f1


def per_label_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    return _prf(*_counts(y_true, y_pred))[2]


def micro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp, fp, fn = (c.sum(keepdims=True) for c in _counts(y_true, y_pred))
    return float(_prf(tp, fp, fn)[2][0])


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean F1 over the labels with support in `y_true` (0.0 when none has any)."""
    support = np.asarray(y_true, dtype=bool).sum(axis=0) > 0
    f1 = per_label_f1(y_true, y_pred)
    return float(f1[support].mean()) if support.any() else 0.0


def micro_precision_recall(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float]:
    """Precision and recall of the pooled label decisions (0.0 where nothing was predicted or given)."""
    tp, fp, fn = (float(c.sum()) for c in _counts(y_true, y_pred))
    return tp / max(tp + fp, 1.0), tp / max(tp + fn, 1.0)


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], frequent: list[str] | None = None) -> dict:
    """Every figure for one set of predictions over `labels` (the columns of both matrices).
    With `frequent` (the labels learned per label), the macro average is also given over those
    (`macro_f1_frequent`) and over the few-shot rest (`few_shot`, with supports)."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    precision, recall, f1 = _prf(*_counts(y_true, y_pred))
    support = y_true.sum(axis=0)
    s_tp = (y_true & y_pred).sum(axis=1)
    s_den = y_true.sum(axis=1) + y_pred.sum(axis=1)
    samples = np.where(s_den > 0, 2 * s_tp / np.maximum(s_den, 1), 1.0)
    per_label = {
        label: {
            "precision": round(float(precision[j]), 4),
            "recall": round(float(recall[j]), 4),
            "f1": round(float(f1[j]), 4),
            "support": int(support[j]),
        }
        for j, label in enumerate(labels)
    }

    def mean_f1(group: list[str]) -> float:
        return round(float(np.mean([per_label[label]["f1"] for label in group])), 4) if group else 0.0

    present = [label for label in labels if per_label[label]["support"] > 0]
    out = {
        "micro_f1": round(micro_f1(y_true, y_pred), 4),
        "macro_f1": mean_f1(present),
        "samples_f1": round(float(samples.mean()) if len(samples) else 0.0, 4),
        "n": int(y_true.shape[0]),
    }
    if frequent is not None:
        few = [label for label in present if label not in frequent]
        columns = [labels.index(label) for label in few]
        out["macro_f1_frequent"] = mean_f1([label for label in present if label in frequent])
        out["few_shot"] = {
            "micro_f1": round(micro_f1(y_true[:, columns], y_pred[:, columns]), 4) if columns else 0.0,
            "macro_f1": mean_f1(few),
            "support": {label: per_label[label]["support"] for label in few},
        }
    return out | {"per_label": per_label}


def fold_scores(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    folds: np.ndarray,
    labels: list[str],
    frequent: list[str] | None = None,
    scorer: Callable[..., dict] | None = None,
) -> dict:
    """Cross-validation: each summary figure is the mean (and `_sd`) over the train folds of the
    out-of-fold predictions; per-label figures are pooled over the folds (each fold alone holds too
    few examples of most labels)."""
    scorer = scorer or scores
    folds = np.asarray(folds)
    fold_ids = sorted(set(folds.tolist()) - {-1})
    per_fold = [scorer(y_true[folds == f], y_pred[folds == f], labels, frequent) for f in fold_ids]
    out = scorer(y_true[folds >= 0], y_pred[folds >= 0], labels, frequent)
    for metric in SUMMARY_METRICS:
        if metric in out:
            values = [r[metric] for r in per_fold]
            out[metric] = round(float(np.mean(values)), 4)
            out[f"{metric}_sd"] = round(float(np.std(values)), 4)
    out["folds"] = len(per_fold)
    return out


def cv_summary(
    y_true: np.ndarray, y_pred: np.ndarray, folds: np.ndarray, labels: list[str], frequent: list[str] | None = None
) -> dict:
    """`fold_scores` without the per-label tables: what a model's meta.json keeps."""
    full = fold_scores(y_true, y_pred, folds, labels, frequent)
    return {key: value for key, value in full.items() if key not in ("per_label", "few_shot")}


def bootstrap_delta(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict:
    """Paired bootstrap over reviews of F1(B) - F1(A): per label, micro and macro (as defined above,
    in each resample), with (1 - alpha) percentile intervals and the share of resamples where B does
    not beat A (a one-sided p-value for "B is better")."""
    rng = np.random.default_rng(seed)
    n = y_true.shape[0]

    def summary(y, a, b):
        la, lb = per_label_f1(y, a), per_label_f1(y, b)
        return np.concatenate([lb - la, [micro_f1(y, b) - micro_f1(y, a), macro_f1(y, b) - macro_f1(y, a)]])

    observed = summary(y_true, pred_a, pred_b)
    if not n:
        return {"delta": observed, "low": observed, "high": observed, "p_not_better": np.ones_like(observed)}
    resamples = (rng.integers(0, n, n) for _ in range(n_boot))
    draws = np.array([summary(y_true[idx], pred_a[idx], pred_b[idx]) for idx in resamples])
    low, high = np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
    return {"delta": observed, "low": low, "high": high, "p_not_better": (draws <= 0).mean(axis=0)}


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar test on paired per-decision correctness."""
    from scipy.stats import binomtest

    b = int((correct_a & ~correct_b).sum())
    c = int((~correct_a & correct_b).sum())
    return 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)


def expand(matrix: np.ndarray, labels: list[str], vocabulary: list[str]) -> np.ndarray:
    """A model's columns placed in the full label vocabulary; labels it does not predict stay 0,
    so a label a model never learned counts as missed, not as absent from the evaluation."""
    out = np.zeros((matrix.shape[0], len(vocabulary)), dtype=matrix.dtype)
    index = {label: j for j, label in enumerate(vocabulary)}
    for k, label in enumerate(labels):
        out[:, index[label]] = matrix[:, k]
    return out


def reliability_bins(y_true: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, np.ndarray]:
    """Per equal-width bin of [0, 1] (bin k holds scores in [k/bins, (k+1)/bins), the last also 1.0):
    how many scores fell in it, their mean, and the share of them that were true labels (0 where
    the bin is empty). Every cell of the matrices counts once: the pooled view."""
    truth = np.asarray(y_true, dtype=float).ravel()
    scores_flat = np.clip(np.asarray(proba, dtype=float).ravel(), 0.0, 1.0)
    index = np.minimum((scores_flat * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins).astype(float)
    score_sum = np.bincount(index, weights=scores_flat, minlength=bins)
    true_sum = np.bincount(index, weights=truth, minlength=bins)
    filled = counts > 0
    mean = np.divide(score_sum, counts, out=np.zeros(bins), where=filled)
    observed = np.divide(true_sum, counts, out=np.zeros(bins), where=filled)
    return {"count": counts, "mean_score": mean, "observed": observed}


def expected_calibration_error(y_true: np.ndarray, proba: np.ndarray, bins: int = CALIBRATION_BINS) -> float:
    """Sum over bins of (share of scores in the bin) x |mean score - share true|: how far, on average,
    a score is from the frequency it claims. 0.0 for no scores."""
    table = reliability_bins(y_true, proba, bins)
    total = table["count"].sum()
    if total == 0:
        return 0.0
    return float((table["count"] / total * np.abs(table["mean_score"] - table["observed"])).sum())


def log_loss(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Mean binary cross-entropy over every cell (scores clipped to [LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP])."""
    truth = np.asarray(y_true, dtype=float)
    p = np.clip(np.asarray(proba, dtype=float), LOG_LOSS_CLIP, 1 - LOG_LOSS_CLIP)
    return float(-(truth * np.log(p) + (1 - truth) * np.log1p(-p)).mean()) if truth.size else 0.0


def calibration_scores(y_true: np.ndarray, proba: np.ndarray, labels: list[str], bins: int = CALIBRATION_BINS) -> dict:
    """How well scores over `labels` (the columns) state frequencies: pooled ECE, the mean per-label
    ECE, log loss and Brier score, and each label's ECE."""
    y_true = np.asarray(y_true, dtype=float)
    proba = np.asarray(proba, dtype=float)
    per_label = {label: expected_calibration_error(y_true[:, j], proba[:, j], bins) for j, label in enumerate(labels)}
    return {
        "ece": round(expected_calibration_error(y_true, proba, bins), 4),
        "ece_mean_per_label": round(float(np.mean(list(per_label.values()))), 4) if labels else 0.0,
        "log_loss": round(log_loss(y_true, proba), 4),
        "brier": round(float(((proba - y_true) ** 2).mean()), 4) if y_true.size else 0.0,
        "bins": bins,
        "n": int(y_true.shape[0]),
        "per_label_ece": {label: round(value, 4) for label, value in per_label.items()},
    }
