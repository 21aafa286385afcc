"""Plots evaluators look at: per-label F1 per model, precision-recall curves, label co-occurrence,
a per-label confusion view and reliability diagrams (scores against the frequency they claim).
PNG via matplotlib (headless); DVC shows them with `dvc plots show`."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def per_label_f1_bars(
    path: Path,
    labels: list[str],
    f1_by_model: dict[str, list[float]],
    title: str,
    errors: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> Path:
    plt = _pyplot()
    models = list(f1_by_model)
    height = 0.8 / max(len(models), 1)
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(labels) * max(1, len(models) / 2) + 1.5))
    positions = np.arange(len(labels))
    for k, model in enumerate(models):
        xerr = None
        if errors and model in errors:
            low, high = errors[model]
            values = np.asarray(f1_by_model[model])
            xerr = np.vstack([values - low, high - values]).clip(min=0)
        ax.barh(positions + k * height, f1_by_model[model], height=height, label=model, xerr=xerr, capsize=2)
    ax.set_yticks(positions + height * (len(models) - 1) / 2, labels)
    ax.invert_yaxis()
    ax.set_xlim(min(0, min((min(v) for v in f1_by_model.values()), default=0)) - 0.05, 1.0)
    ax.set_xlabel("F1" if not errors else "value (bars: 95% bootstrap interval)")
    ax.axvline(0, color="grey", linewidth=0.5)
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, plt, path)


def pr_curves(path: Path, y_true: np.ndarray, proba_by_model: dict[str, np.ndarray], title: str) -> Path:
    from sklearn.metrics import precision_recall_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for model, proba in proba_by_model.items():
        if y_true.sum() == 0:
            continue
        # rounded as tag rows round them: float noise in the last bits (BLAS summation order) must not
        # move a curve's points, or the PNG would differ between two runs of the same models
        precision, recall, _ = precision_recall_curve(y_true.ravel(), np.round(proba, 4).ravel())
        ax.plot(recall, precision, label=f"{model} (micro-averaged)")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return _save(fig, plt, path)


def cooccurrence(path: Path, y: np.ndarray, labels: list[str], title: str) -> Path:
    plt = _pyplot()
    matrix = y.T.astype(int) @ y.astype(int)
    fig, ax = plt.subplots(figsize=(0.45 * len(labels) + 3, 0.45 * len(labels) + 2))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(
                j,
                i,
                matrix[i, j],
                ha="center",
                va="center",
                fontsize=6,
                color="white" if matrix[i, j] > matrix.max() / 2 else "black",
            )
    fig.colorbar(image, ax=ax, shrink=0.7)
    ax.set_title(title)
    return _save(fig, plt, path)


def confusion_grid(
    path: Path, y_true: np.ndarray, pred_by_model: dict[str, np.ndarray], labels: list[str], title: str
) -> Path:
    """Per label and model: TP / FP / FN counts as stacked bars, the confusion that matters for tags."""
    plt = _pyplot()
    models = list(pred_by_model)
    fig, axes = plt.subplots(
        1, len(models), figsize=(4 * len(models), 0.35 * len(labels) + 1.5), sharey=True, squeeze=False
    )
    truth = y_true.astype(bool)
    for ax, model in zip(axes[0], models, strict=True):
        pred = pred_by_model[model].astype(bool)
        tp, fp, fn = ((truth & pred).sum(0), (~truth & pred).sum(0), (truth & ~pred).sum(0))
        positions = np.arange(len(labels))
        ax.barh(positions, tp, color="tab:green", label="true positive")
        ax.barh(positions, fn, left=tp, color="tab:orange", label="missed (FN)")
        ax.barh(positions, fp, left=tp + fn, color="tab:red", label="false alarm (FP)")
        ax.set_yticks(positions, labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(model, fontsize=9)
    axes[0][0].legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    return _save(fig, plt, path)


def reliability_diagram(path: Path, panels: dict[str, dict[str, dict[str, np.ndarray]]], title: str) -> Path:
    """One panel per set of rows (e.g. CV out-of-fold, validation), one line per score (raw,
    calibrated): each non-empty bin's mean score against the share of true labels in it, with the
    diagonal a calibrated score lies on. `panels` maps panel -> line label -> `scoring.reliability_bins`."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 4.5), squeeze=False)
    for ax, (panel, lines) in zip(axes[0], panels.items(), strict=True):
        ax.plot([0, 1], [0, 1], color="grey", linewidth=0.8, linestyle="--", label="calibrated ideal")
        for (label, table), marker in zip(lines.items(), ("o", "s", "^", "D"), strict=False):
            filled = table["count"] > 0
            # rounded: float noise in the last bits must not move a point, or the PNG would differ between runs
            ax.plot(
                np.round(table["mean_score"][filled], 4),
                np.round(table["observed"][filled], 4),
                marker=marker,
                label=label,
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean score in bin")
        ax.set_ylabel("share of true labels in bin")
        ax.set_title(panel, fontsize=9)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(title, fontsize=9)
    return _save(fig, plt, path)


def _save(fig, plt, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})  # no version string: byte-stable across installs
    plt.close(fig)
    return path
