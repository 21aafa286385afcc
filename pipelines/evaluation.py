"""Multi-label metrics, bootstrap intervals and a paired test: the numbers evaluators act on."""

from __future__ import annotations

import numpy as np


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp, dtype=float), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp, dtype=float), where=(tp + fn) > 0)
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp, dtype=float), where=(2 * tp + fp + fn) > 0)
    return precision, recall, f1


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict:
    """micro/macro/samples F1 and the per-label table. Samples with no true and no predicted label
    count as a perfect 1.0 (nothing to find, nothing claimed), as scikit-learn's zero_division=1."""
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    tp = (y_true & y_pred).sum(axis=0).astype(float)
    fp = (~y_true & y_pred).sum(axis=0).astype(float)
    fn = (y_true & ~y_pred).sum(axis=0).astype(float)
    precision, recall, f1 = _prf(tp, fp, fn)
    micro = _prf(tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True))[2][0]
    s_tp = (y_true & y_pred).sum(axis=1)
    s_den = y_true.sum(axis=1) + y_pred.sum(axis=1)
    samples = np.where(s_den > 0, 2 * s_tp / np.maximum(s_den, 1), 1.0)
    return {
        "micro_f1": round(float(micro), 4),
        "macro_f1": round(float(f1.mean()) if len(labels) else 0.0, 4),
        "samples_f1": round(float(samples.mean()) if len(samples) else 0.0, 4),
        "n": int(y_true.shape[0]),
        "per_label": {
            label: {
                "precision": round(float(precision[j]), 4),
                "recall": round(float(recall[j]), 4),
                "f1": round(float(f1[j]), 4),
                "support": int(y_true[:, j].sum()),
            }
            for j, label in enumerate(labels)
        },
    }


def per_label_f1(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    y_true = np.asarray(y_true, dtype=bool)
    y_pred = np.asarray(y_pred, dtype=bool)
    tp = (y_true & y_pred).sum(axis=0).astype(float)
    fp = (~y_true & y_pred).sum(axis=0).astype(float)
    fn = (y_true & ~y_pred).sum(axis=0).astype(float)
    return _prf(tp, fp, fn)[2]


def bootstrap_delta(
    y_true: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> dict:
    """Paired bootstrap over reviews of F1(B) - F1(A): per label, micro and macro, with
    (1 - alpha) percentile intervals and the share of resamples where B does not beat A (a
    one-sided p-value for "B is better")."""
    rng = np.random.default_rng(seed)
    n = y_true.shape[0]

    def summary(y, a, b):
        la, lb = per_label_f1(y, a), per_label_f1(y, b)
        micro_a = scores(y, a, [""] * y.shape[1])["micro_f1"] if y.shape[1] else 0.0
        micro_b = scores(y, b, [""] * y.shape[1])["micro_f1"] if y.shape[1] else 0.0
        return np.concatenate([lb - la, [micro_b - micro_a, lb.mean() - la.mean()]])

    observed = summary(y_true, pred_a, pred_b)
    draws = (
        np.array(
            [summary(y_true[idx], pred_a[idx], pred_b[idx]) for idx in (rng.integers(0, n, n) for _ in range(n_boot))]
        )
        if n
        else np.zeros((0, 0))
    )
    low, high = np.percentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0) if n else (observed, observed)
    p_not_better = (draws <= 0).mean(axis=0) if n else np.ones_like(observed)
    return {"delta": observed, "low": low, "high": high, "p_not_better": p_not_better}


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> float:
    """Two-sided exact McNemar test on paired per-decision correctness."""
    from scipy.stats import binomtest

    b = int((correct_a & ~correct_b).sum())
    c = int((~correct_a & correct_b).sum())
    return 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5).pvalue)
