"""The one scorer: per-label precision / recall / F1, micro- and macro-F1 over a stated label set,
fold-level cross-validation, bootstrap intervals and a paired test. Train, audit, evaluate,
compare and the research scripts all score through here, so each metric name means one number:

- `micro_f1`: F1 of the pooled label decisions over every label of the vocabulary;
- `macro_f1`: the mean per-label F1 over the labels **with support** in the truth (a label no
  review carries says nothing about recall, and scoring it 0 would punish a model for the data);
- `macro_f1_frequent` / `few_shot`: the same mean over the well-supported labels / the rest, when
  the caller names which labels are frequent;
- `samples_f1`: mean per-review F1; a review with no true and no predicted label counts 1.0.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SUMMARY_METRICS = ("micro_f1", "macro_f1", "macro_f1_frequent", "samples_f1")


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
