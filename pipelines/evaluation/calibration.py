"""Per-label calibration: raw scores mapped so that 0.3 means "about 3 in 10 such reviews carry the
label" for every label, while every decision stays exactly what the raw score and its tuned
threshold decide.

Why: thresholds are tuned per label on validation, so a raw 0.38 given for one label and a raw 0.30
refused for another says nothing a reader can compare. Each label gets a monotone map fitted on the
out-of-fold (cross-validated) probabilities of the training split, never on validation (which tuned
the thresholds) nor on the test years (which judge):

- `platt`: sigmoid(a * logit(p) + b), a > 0, fitted with Platt's smoothed targets (a positive counts
  as (N+ + 1) / (N+ + 2), a negative as 1 / (N- + 2)), so a label with few examples is not pushed to
  0 or 1;
- `isotonic`: pool-adjacent-violators on the same smoothed targets, read as a piecewise-linear map
  through its blocks' centres, with `ISOTONIC_RAW_SHARE` of the raw score mixed in so that the map is
  strictly increasing (no flat stretch where a given and a refused score would read the same);
- `identity`: the raw score (a label with no positive or no negative in the training split, a model
  trained without cross-validation, a model saved before calibration existed).

Which one a label gets is chosen by cross-fitted log loss on the out-of-fold rows (fitted on the other
folds, scored on the held one); identity competes too. A label with fewer than `min_positives` training
positives is not chosen for: it takes one Platt map fitted on all such labels pooled (say so in the
calibrator's `fit`). A calibrator is a small JSON dict saved in meta.json (`extra["calibration"]`).

Applying a calibrator needs numpy only (tagging imports neither scikit-learn nor torch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipelines.evaluation.scoring import calibration_scores, log_loss

METHODS = ("platt", "isotonic")  # the fitted forms; identity always competes
LOGIT_CLIP = 1e-6  # raw scores of exactly 0 or 1 are read as 1e-6 / 1 - 1e-6 by the Platt map
MIN_SLOPE = 0.05  # a Platt slope below this (a label the model barely separates) is held at it
ISOTONIC_RAW_SHARE = 0.01  # of an isotonic map: keeps it strictly increasing
DIGITS = 6  # a saved calibrator's numbers, rounded so float noise in the last bits changes no file


def _logit(values: np.ndarray) -> np.ndarray:
    clipped = np.clip(values, LOGIT_CLIP, 1 - LOGIT_CLIP)
    return np.log(clipped) - np.log1p(-clipped)


def apply_calibrator(calibrator: dict | None, values: np.ndarray) -> np.ndarray:
    """One label's calibrated scores; `None` or an identity calibrator returns the raw scores."""
    values = np.asarray(values, dtype=float)
    method = (calibrator or {}).get("method", "identity")
    if method == "identity":
        return values.copy()
    if method == "platt":
        return 1.0 / (1.0 + np.exp(-(calibrator["a"] * _logit(values) + calibrator["b"])))
    if method == "isotonic":
        return np.interp(values, calibrator["x"], calibrator["y"])
    raise ValueError(f"unknown calibration method {method!r}")


def calibrate_matrix(calibration: dict[str, dict], labels: list[str], proba: np.ndarray) -> np.ndarray:
    """Every label's column (the last axis) through its calibrator; a label without one keeps its raw score."""
    proba = np.asarray(proba, dtype=float)
    out = proba.copy()
    for j, label in enumerate(labels):
        out[..., j] = apply_calibrator(calibration.get(label), proba[..., j])
    return out


def keep_decisions(
    raw: np.ndarray, calibrated: np.ndarray, limits: np.ndarray, calibrated_limits: np.ndarray
) -> np.ndarray:
    """Calibrated scores nudged (by at most float rounding) so that `calibrated >= calibrated_limits`
    is exactly `raw >= limits`. The maps are increasing, so this only ever moves a score that lies
    within a few ulps of its threshold, where rounding could otherwise flip the comparison."""
    above = np.asarray(raw) >= limits
    below_limit = np.nextafter(calibrated_limits, -np.inf)
    return np.where(above, np.maximum(calibrated, calibrated_limits), np.minimum(calibrated, below_limit))


# --- fitting ------------------------------------------------------------------------------------
def _smoothed_targets(y: np.ndarray) -> np.ndarray:
    """Platt's targets: what a label's positives and negatives stand for once a prior of one
    example each way is added, so a map fitted on few examples never claims certainty."""
    positives = float(y.sum())
    negatives = float(len(y) - positives)
    return np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))


def _logistic_fit(x: np.ndarray, targets: np.ndarray, slope: float | None = None) -> tuple[float, float]:
    """(a, b) minimising the cross-entropy of sigmoid(a x + b) against `targets`, by damped Newton
    steps from the identity map (a = 1, b = 0); with `slope` given, only b is fitted."""
    a, b = (1.0 if slope is None else slope), 0.0
    design = np.stack([x, np.ones_like(x)], axis=1)

    def loss(a_: float, b_: float) -> float:
        z = a_ * x + b_
        return float((np.logaddexp(0.0, z) - targets * z).sum())

    current = loss(a, b)
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(a * x + b)))
        gradient = design.T @ (p - targets)
        hessian = (design * (p * (1 - p))[:, None]).T @ design + 1e-9 * np.eye(2)
        step = np.linalg.solve(hessian, gradient) if slope is None else np.array([0.0, gradient[1] / hessian[1, 1]])
        scale = 1.0
        while scale > 1e-8 and loss(a - scale * step[0], b - scale * step[1]) > current:
            scale /= 2
        a, b = a - scale * step[0], b - scale * step[1]
        improved = loss(a, b)
        if current - improved < 1e-12:
            break
        current = improved
    return float(a), float(b)


def fit_platt(raw: np.ndarray, y: np.ndarray) -> dict:
    """A Platt map on the logit of the raw score; its slope is kept >= MIN_SLOPE so the map stays
    increasing (and readable) even for a label the model barely separates."""
    x, targets = _logit(np.asarray(raw, dtype=float)), _smoothed_targets(np.asarray(y))
    a, b = _logistic_fit(x, targets)
    if a < MIN_SLOPE:
        a, b = _logistic_fit(x, targets, slope=MIN_SLOPE)
    return {"method": "platt", "a": round(a, DIGITS), "b": round(b, DIGITS)}


def fit_isotonic(raw: np.ndarray, y: np.ndarray) -> dict:
    """Pool-adjacent-violators on the smoothed targets, kept as breakpoints (x ascending, y strictly
    increasing) through each block's centre, plus 0 and 1, for `np.interp`."""
    values, inverse = np.unique(np.asarray(raw, dtype=float), return_inverse=True)
    weight = np.bincount(inverse).astype(float)
    total = np.bincount(inverse, weights=_smoothed_targets(np.asarray(y)))
    blocks: list[list[float]] = []  # [target sum, weight, lowest value, highest value]
    for k, value in enumerate(values):
        blocks.append([total[k], weight[k], value, value])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] >= blocks[-1][0] / blocks[-1][1]:
            last = blocks.pop()
            blocks[-1] = [blocks[-1][0] + last[0], blocks[-1][1] + last[1], blocks[-1][2], last[3]]
    x = [(low + high) / 2 for _, _, low, high in blocks]
    y_fit = [s / w for s, w, _, _ in blocks]
    if x[0] > 0:
        x, y_fit = [0.0, *x], [y_fit[0], *y_fit]
    if x[-1] < 1:
        x, y_fit = [*x, 1.0], [*y_fit, y_fit[-1]]
    knots_x, knots_y = [], []
    for xk, yk in zip(x, y_fit, strict=True):
        xk = round(xk, DIGITS)
        yk = round((1 - ISOTONIC_RAW_SHARE) * yk + ISOTONIC_RAW_SHARE * xk, DIGITS)
        if knots_x and xk <= knots_x[-1]:
            continue
        knots_x.append(xk)
        knots_y.append(max(yk, knots_y[-1] + 10**-DIGITS) if knots_y else yk)
    return {"method": "isotonic", "x": knots_x, "y": knots_y}


FITTERS = {"platt": fit_platt, "isotonic": fit_isotonic}


def _cross_fitted(method: str, raw: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each row scored by the `method` map fitted on the other folds' rows."""
    out = np.empty_like(raw, dtype=float)
    for fold in np.unique(folds):
        held = folds == fold
        out[held] = apply_calibrator(FITTERS[method](raw[~held], y[~held]), raw[held])
    return out


def fit_label(raw: np.ndarray, y: np.ndarray, folds: np.ndarray, methods: Sequence[str]) -> dict:
    """One well-supported label's calibrator: the candidate (identity or a fitted method) with the
    lowest cross-fitted log loss, refitted on every row; ties go to the simpler (identity, then the
    order of `methods`). With a single fold there is nothing to cross-fit: Platt, unchosen."""
    positives = int(y.sum())
    if len(np.unique(folds)) < 2:
        return fit_platt(raw, y) | {"fit": "label (one fold: not chosen)", "positives": positives}
    losses = {"identity": log_loss(y, raw)} | {m: log_loss(y, _cross_fitted(m, raw, y, folds)) for m in methods}
    order = ["identity", *methods]
    best = min(order, key=lambda name: (round(losses[name], 9), order.index(name)))
    chosen = {"method": "identity"} if best == "identity" else FITTERS[best](raw, y)
    return chosen | {
        "fit": "label",
        "positives": positives,
        "cv_log_loss": {name: round(value, 4) for name, value in losses.items()},
    }


def fit_calibration(
    y: np.ndarray,
    oof: np.ndarray,
    folds: np.ndarray,
    labels: list[str],
    methods: Sequence[str] = METHODS,
    min_positives: int = 10,
) -> dict[str, dict]:
    """Every label's calibrator from out-of-fold probabilities `oof` (rows with fold -1 have none and
    are left out). Labels with 0 < positives < `min_positives` share one pooled Platt map; labels
    with no positive or no negative keep the raw score."""
    rows = np.asarray(folds) >= 0
    y, oof, folds = np.asarray(y)[rows], np.asarray(oof, dtype=float)[rows], np.asarray(folds)[rows]
    positives = y.sum(axis=0).astype(int)
    out: dict[str, dict] = {}
    few = [j for j, n in enumerate(positives) if 0 < n < min_positives and n < len(y)]
    if few:
        pooled = fit_platt(oof[:, few].ravel(), y[:, few].ravel())
        names = [labels[j] for j in few]
        for j in few:
            out[labels[j]] = pooled | {"fit": "pooled", "pooled_over": names, "positives": int(positives[j])}
    for j, label in enumerate(labels):
        if label in out:
            continue
        if positives[j] == 0 or positives[j] == len(y):
            out[label] = {
                "method": "identity",
                "fit": "none (no positive or no negative)",
                "positives": int(positives[j]),
            }
            continue
        out[label] = fit_label(oof[:, j], y[:, j], folds, methods)
    return out


def cross_fitted_calibration(
    y: np.ndarray,
    oof: np.ndarray,
    folds: np.ndarray,
    labels: list[str],
    methods: Sequence[str] = METHODS,
    min_positives: int = 10,
) -> np.ndarray:
    """The out-of-fold rows, each calibrated by calibrators fitted (choice included) on the other
    folds alone: the honest CV estimate of the calibrated scores (calibrators fitted on all the
    rows and scored on them would flatter themselves). Rows with fold -1 keep their raw scores."""
    folds = np.asarray(folds)
    oof = np.asarray(oof, dtype=float)
    out = oof.copy()
    for fold in sorted(set(folds.tolist()) - {-1}):
        held = folds == fold
        fitted = fit_calibration(y[~held], oof[~held], folds[~held], labels, methods, min_positives)
        out[held] = calibrate_matrix(fitted, labels, oof[held])
    return out


def calibration_summary(calibration: dict[str, dict]) -> dict[str, int]:
    """How many labels took each form (`pooled platt` counted apart from per-label Platt)."""
    counts: dict[str, int] = {}
    for calibrator in calibration.values():
        name = calibrator.get("method", "identity")
        name = f"pooled {name}" if calibrator.get("fit") == "pooled" else name
        counts[name] = counts.get(name, 0) + 1
    return dict(sorted(counts.items()))


def raw_and_calibrated(y: np.ndarray, raw: np.ndarray, calibrated: np.ndarray, labels: list[str], bins: int) -> dict:
    """The one scorer's calibration figures for the same rows before and after calibration."""
    return {
        "raw": calibration_scores(y, raw, labels, bins),
        "calibrated": calibration_scores(y, calibrated, labels, bins),
    }
