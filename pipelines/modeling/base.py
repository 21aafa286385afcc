"""One interface for every model kind, so the CLI, evaluation and MLflow never branch on the kind.

A saved model is a directory: `meta.json` (kind, task, sorted label vocabulary = label2id,
per-label thresholds, taxonomy version, parameters, per-label calibrators) beside the kind's own
safe-format weights (JSON and safetensors arrays, ONNX for an encoder). Nothing is pickled.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pipelines.evaluation.calibration import calibrate_matrix, keep_decisions
from pipelines.text import sentence_spans

Span = tuple[int, int]  # [start, end) character offsets
META_FILE = "meta.json"
CV_PROBA_FILE = "cv_proba.npy"  # out-of-fold probabilities on the train split, written by the train stage
HAND_TAUGHT = "hand_taught"  # meta.extra: labels a kind learns only from hand-written items (no review support)


@dataclass
class ModelMeta:
    kind: str
    task: str
    labels: list[str]
    thresholds: list[float]
    taxonomy_version: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    # What training found (cv scores, best epoch, routes); never timings or anything else that differs
    # between two runs with identical weights, so a retrain that changes nothing changes no file.
    extra: dict[str, Any] = field(default_factory=dict)
    wrapper: str = ""  # a registered wrapper around the kind (e.g. "routed"); "" = the kind itself

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


def read_meta(directory: str | Path) -> ModelMeta:
    """A saved model's kind, labels, thresholds and parameters, without loading its weights."""
    return ModelMeta(**json.loads((Path(directory) / META_FILE).read_text(encoding="utf-8")))


# An operating point is the F-beta the thresholds maximise on validation: balanced F1 (the tuned
# thresholds every figure is reported at), recall-weighted F2 (harms an analyst must not miss), and
# precision-weighted F0.5. Each is tuned on validation and saved with the model (meta.extra).
OPERATING_POINTS = {"balanced": 1.0, "recall": 2.0, "precision": 0.5}  # name -> F-beta (config.OPERATING_POINT_NAMES)
# the name that means each model's own default operating point (meta.extra["default_operating_point"],
# set at training from train.default_operating_points: recall for harms, balanced for themes)
DEFAULT_POINT = "default"


def tune_thresholds(
    y_true: np.ndarray,
    proba: np.ndarray,
    grid: Sequence[float] | None = None,
    default: float = 0.5,
    beta: float = 1.0,
) -> np.ndarray:
    """Per-label threshold maximising F-beta (F1 by default) on held-out data; ties go to the threshold
    nearest 0.5 (the least surprising), and labels absent from the data keep the default."""
    grid = np.asarray(grid if grid is not None else np.round(np.arange(0.05, 0.96, 0.025), 3))
    thresholds = np.full(y_true.shape[1], default, dtype=float)
    for j in range(y_true.shape[1]):
        truth = y_true[:, j].astype(bool)
        if not truth.any():
            continue
        predicted = proba[:, j][None, :] >= grid[:, None]
        tp = (predicted & truth).sum(axis=1)
        fp = (predicted & ~truth).sum(axis=1)
        fn = (~predicted & truth).sum(axis=1)
        b2 = beta * beta
        f1 = np.where(tp > 0, (1 + b2) * tp / np.maximum((1 + b2) * tp + b2 * fn + fp, 1), 0.0)
        best = np.flatnonzero(np.isclose(f1, f1.max()))
        thresholds[j] = float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])
    return thresholds


@dataclass
class ItemScores:
    """One document's items (spans of its text) and each item's probability per label."""

    spans: list[Span]
    proba: np.ndarray  # (items, labels)


@dataclass
class Scores:
    """What a model computed for a batch: document probabilities and, for kinds that score items,
    every document's item scores, so evidence is read from the very scores that made the
    prediction, with no state kept between calls. `parts` holds the scores of inner models (an
    ensemble's members, a routed model's learned and rule parts)."""

    proba: np.ndarray  # (docs, labels)
    items: list[ItemScores] | None = None
    parts: dict[str, Scores] = field(default_factory=dict)

    def row(self, i: int) -> Scores:
        """Document `i` alone, as a batch of one."""
        return Scores(
            self.proba[i : i + 1],
            None if self.items is None else [self.items[i]],
            {name: part.row(i) for name, part in self.parts.items()},
        )


class ReviewClassifier(ABC):
    """fit / predict_proba / predict / evidence / save / load, scikit-learn style: no global state.
    `kind` is set by `pipelines.modeling.registry.register`."""

    kind: ClassVar[str]

    def __init__(self, task: str, labels: list[str], params: dict[str, Any] | None = None):
        self.meta = ModelMeta(self.kind, task, sorted(labels), [0.5] * len(labels), params=dict(params or {}))

    @property
    def labels(self) -> list[str]:
        return self.meta.labels

    @property
    def thresholds(self) -> np.ndarray:
        return np.asarray(self.meta.thresholds, dtype=float)

    @classmethod
    def taught_without_reviews(cls, task: str, params: dict[str, Any]) -> set[str]:
        """Labels this kind can learn whatever their support in the training reviews (a kind taught by
        hand-written examples says which); the others with too little support take the lexicon route."""
        return set()

    @abstractmethod
    def fit(
        self, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None = None
    ) -> ReviewClassifier:
        """`validation` is for kinds that stop early; thresholds are tuned separately by `tune`."""

    def fresh(self) -> ReviewClassifier:
        """An unfitted model with the same parameters (cross-validation refits these)."""
        return type(self)(self.meta.task, self.labels, self.meta.params)

    def out_of_fold_proba(
        self, texts: list[str], y: np.ndarray, folds: np.ndarray, validation: tuple[list[str], np.ndarray] | None
    ) -> np.ndarray | None:
        """Each training review scored by a twin fitted without its fold (validation still drives
        early stopping, as in the real fit). These rows, scored with the validation-tuned thresholds,
        are the honest estimate the champion is chosen by: validation F1 with thresholds tuned on
        validation itself flatters the flexible models."""
        proba = np.zeros(np.shape(y), dtype=float)
        for fold in sorted(f for f in set(np.asarray(folds).tolist()) if f >= 0):
            held = np.asarray(folds) == fold
            twin = self.fresh()
            twin.fit([t for t, h in zip(texts, held, strict=True) if not h], y[~held], validation=validation)
            proba[held] = twin.predict_proba([t for t, h in zip(texts, held, strict=True) if h])
        return proba

    @abstractmethod
    def predict_proba(self, texts: list[str]) -> np.ndarray: ...

    def score(self, texts: list[str]) -> Scores:
        """Probabilities and whatever evidence needs of them (kinds that score items override it)."""
        return Scores(self.predict_proba(texts))

    def tune(self, texts: list[str], y: np.ndarray) -> np.ndarray:
        """Thresholds for every operating point, on held-out data: `meta.thresholds` are the balanced
        (F1) ones, the others go to `meta.extra["operating_points"]`."""
        proba = self.predict_proba(texts)
        self.meta.thresholds = tune_thresholds(y, proba).tolist()
        self.meta.extra["operating_points"] = {
            name: tune_thresholds(y, proba, beta=beta).tolist()
            for name, beta in OPERATING_POINTS.items()
            if name != "balanced"
        }
        return self.thresholds

    @property
    def default_operating_point(self) -> str:
        """The operating point this model applies unless told otherwise (balanced for a model saved
        before the per-task defaults)."""
        return str(self.meta.extra.get("default_operating_point", "balanced"))

    def resolved_operating_point(self, operating_point: str) -> str:
        """The operating point a name stands for: `default` is this model's own, any other itself."""
        return self.default_operating_point if operating_point == DEFAULT_POINT else operating_point

    def thresholds_at(self, operating_point: str = "default") -> np.ndarray:
        """The thresholds of an operating point (balanced: the tuned F1 thresholds; default: the
        model's own default). A model saved before operating points existed answers every point with
        its balanced thresholds."""
        operating_point = self.resolved_operating_point(operating_point)
        if operating_point not in OPERATING_POINTS:
            names = ", ".join([DEFAULT_POINT, *OPERATING_POINTS])
            raise ValueError(f"unknown operating point {operating_point!r}; expected {names}")
        saved = self.meta.extra.get("operating_points", {}).get(operating_point)
        return self.thresholds if operating_point == "balanced" or saved is None else np.asarray(saved, dtype=float)

    def decide(self, proba: np.ndarray, threshold_scale: float = 1.0, operating_point: str = "default") -> np.ndarray:
        """Labels from probabilities this model computed, at an operating point's thresholds (scaled)."""
        return (np.asarray(proba) >= self.limits(operating_point, threshold_scale)).astype(np.int8)

    # --- calibrated scores (pipelines.evaluation.calibration) ------------------------------------
    @property
    def calibration(self) -> dict[str, dict]:
        """Each label's calibrator, fitted on the train split's out-of-fold scores by the train stage
        (`meta.extra["calibration"]`); empty for a model saved before calibration, whose calibrated
        scores are then its raw ones."""
        return self.meta.extra.get("calibration", {})

    def limits(self, operating_point: str = "default", threshold_scale: float | np.ndarray = 1.0) -> np.ndarray:
        """The thresholds `decide` compares with, scaled and clipped: (labels,), or (docs, labels) for one
        scale per document. The one definition: tag rows show these, calibration maps these."""
        scale = np.asarray(threshold_scale, dtype=float)
        return np.clip(self.thresholds_at(operating_point) * (scale[:, None] if scale.ndim == 1 else scale), 0.0, 1.0)

    def calibrated_thresholds(
        self, operating_point: str = "default", threshold_scale: float | np.ndarray = 1.0
    ) -> np.ndarray:
        """An operating point's thresholds (times `threshold_scale`: a float, or one per document)
        through each label's calibrator: the calibrated score a label needs to be given."""
        return calibrate_matrix(self.calibration, self.labels, self.limits(operating_point, threshold_scale))

    def calibrate(self, proba: np.ndarray, threshold_scale: float | np.ndarray = 1.0) -> np.ndarray:
        """Raw probabilities this model computed (docs, labels), calibrated per label so a score means
        the same frequency for every label. `calibrate(p, s) >= calibrated_thresholds(point, s)` is
        exactly `decide(p, s, point)` for every operating point at the scale `s` given (a float, or
        one per document, as long documents use): scores within float rounding of a threshold are
        nudged to the side the raw score is on."""
        raw = np.asarray(proba, dtype=float)
        calibrated = calibrate_matrix(self.calibration, self.labels, raw)
        for point in OPERATING_POINTS:
            limits = self.limits(point, threshold_scale)
            calibrated_limits = calibrate_matrix(self.calibration, self.labels, limits)
            calibrated = keep_decisions(raw, calibrated, limits, calibrated_limits)
        return calibrated

    def predict(self, texts: list[str], threshold_scale: float = 1.0) -> np.ndarray:
        return self.decide(self.predict_proba(texts), threshold_scale)

    def evidence(self, text: str, labels: list[str], k: int = 3, scored: Scores | None = None) -> dict[str, list[Span]]:
        """The [start, end) spans of `text` holding the sentences that most support each label (spans,
        so the caller can map them back to the original document). `scored` is this text's row of
        `score()`, for kinds whose evidence comes from the scores that made the prediction. Here the
        model scores every sentence on its own: one extra batched pass; kinds with a cheaper answer
        override it."""
        spans = sentence_spans(text)
        if not spans or not labels:
            return {label: [] for label in labels}
        proba = self.predict_proba([text[a:b] for a, b in spans])
        out: dict[str, list[Span]] = {}
        for label in labels:
            j = self.meta.label2id[label]
            order = np.argsort(-proba[:, j], kind="stable")[:k]
            out[label] = [spans[i] for i in order if proba[i, j] > 0]
        return out

    # --- persistence ------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._save_weights(directory)
        (directory / META_FILE).write_text(json.dumps(asdict(self.meta), indent=2) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: str | Path, backend: str | None = None) -> ReviewClassifier:
        """A saved model; `backend` (onnx | torch) chooses what runs an encoder kind's encoder, where
        the model's own `backend` setting would otherwise decide. Other kinds ignore it."""
        directory = Path(directory)
        meta = read_meta(directory)
        model = cls.__new__(cls)
        model.meta = meta
        model._load_weights(directory, backend)
        return model

    @abstractmethod
    def _save_weights(self, directory: Path) -> None: ...

    @abstractmethod
    def _load_weights(self, directory: Path, backend: str | None = None) -> None: ...
