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


def expand(matrix: np.ndarray, labels: list[str], vocabulary: list[str]) -> np.ndarray:
    """A model's columns placed in the full label vocabulary; labels it does not predict stay 0,
    so a label a model never learned counts as missed, not as absent from the evaluation."""
    out = np.zeros((matrix.shape[0], len(vocabulary)), dtype=matrix.dtype)
    index = {label: j for j, label in enumerate(vocabulary)}
    for k, label in enumerate(labels):
        out[:, index[label]] = matrix[:, k]
    return out


def label_groups(y_true: np.ndarray, labels: list[str], frequent: list[str]) -> dict:
    """Which labels each macro average covers: every label with support here, the well-supported
    ones (enough training examples to be learned per label) and the few-shot rest."""
    support = np.asarray(y_true, dtype=bool).sum(axis=0)
    present = [label for label, n in zip(labels, support, strict=True) if n > 0]
    return {
        "with_support": present,
        "frequent": [label for label in present if label in frequent],
        "few_shot": [label for label in present if label not in frequent],
    }


def reader_scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str], frequent: list[str]) -> dict:
    """Scores over the whole vocabulary, each macro average named for the labels it covers:
    `macro_f1` over every label with support, `macro_f1_frequent` over the well-supported ones,
    `few_shot` over the rest (with their supports)."""
    full = scores(y_true, y_pred, labels)
    groups = label_groups(y_true, labels, frequent)

    def macro(group: list[str]) -> float:
        return round(float(np.mean([full["per_label"][label]["f1"] for label in group])), 4) if group else 0.0

    few = [labels.index(label) for label in groups["few_shot"]]
    return {
        "micro_f1": full["micro_f1"],
        "macro_f1": macro(groups["with_support"]),
        "macro_f1_frequent": macro(groups["frequent"]),
        "samples_f1": full["samples_f1"],
        "n": full["n"],
        "few_shot": {
            "micro_f1": scores(np.asarray(y_true)[:, few], np.asarray(y_pred)[:, few], groups["few_shot"])["micro_f1"]
            if few
            else 0.0,
            "macro_f1": macro(groups["few_shot"]),
            "support": {label: full["per_label"][label]["support"] for label in groups["few_shot"]},
        },
        "per_label": full["per_label"],
    }


def fold_scores(
    y_true: np.ndarray, y_pred: np.ndarray, folds: np.ndarray, labels: list[str], frequent: list[str]
) -> dict:
    """Mean ± sd over the train folds of out-of-fold predictions; per-label figures are pooled
    over the folds (each fold alone holds too few examples of most labels)."""
    per_fold = [
        reader_scores(y_true[folds == f], y_pred[folds == f], labels, frequent)
        for f in sorted(set(folds.tolist()) - {-1})
    ]
    pooled = reader_scores(y_true[folds >= 0], y_pred[folds >= 0], labels, frequent)
    out = dict(pooled)
    for metric in ("micro_f1", "macro_f1", "macro_f1_frequent", "samples_f1"):
        values = [r[metric] for r in per_fold]
        out[metric] = round(float(np.mean(values)), 4)
        out[f"{metric}_sd"] = round(float(np.std(values)), 4)
    out["folds"] = len(per_fold)
    return out
