"""Weighted average of other trained models' probabilities, with its own validation-tuned thresholds.

Members are copied into the ensemble's directory, so a saved (or MLflow-logged) ensemble is
self-contained. Evidence comes from the members, simplest first (the registry's rank: the
interpretable lexicon, then TF-IDF, then the encoder kinds), each only for the labels still without
evidence.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from pipelines import paths
from pipelines.config import EnsembleConfig
from pipelines.modeling import registry
from pipelines.modeling.base import CV_PROBA_FILE, ReviewClassifier, Scores, Span

MEMBERS_DIR = "members"


@registry.register("ensemble", config=EnsembleConfig, rank=4)
class EnsembleClassifier(ReviewClassifier):
    """Weighted mean of the members' probabilities (lexicon + TF-IDF + quoted items by default)."""

    def __init__(self, task: str, labels: list[str], params: dict | None = None, models_dir: str | Path = ""):
        super().__init__(task, labels, params)
        members = list(self.meta.params.get("members", []))
        weights = list(self.meta.params.get("weights", [1.0] * len(members)))
        if len(members) < 2 or len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("ensemble needs >= 2 members and one non-negative weight per member")
        self.models_dir = paths.resolve(models_dir or paths.MODELS) / task
        self.members: dict[str, ReviewClassifier] = {}

    def _load_members(self, root: Path, backend: str | None = None) -> None:
        self.members = {}
        for kind in self.meta.params["members"]:
            member = registry.load_classifier(root / kind, backend)
            if member.labels != self.labels:
                raise ValueError(f"ensemble member {kind} has labels {member.labels}, expected {self.labels}")
            self.members[kind] = member

    def fit(self, texts: list[str], y: np.ndarray, validation=None) -> EnsembleClassifier:
        self._load_members(self.models_dir)
        return self

    def _combine(self, stacked: list[np.ndarray]) -> np.ndarray:
        weights = np.asarray(self.meta.params.get("weights", [1.0] * len(stacked)), dtype=float)
        return np.tensordot(weights / weights.sum(), np.stack(stacked), axes=1)

    def score(self, texts: list[str]) -> Scores:
        parts = {kind: member.score(texts) for kind, member in self.members.items()}
        return Scores(self._combine([part.proba for part in parts.values()]), parts=parts)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.score(texts).proba

    def out_of_fold_proba(
        self, texts: list[str], y: np.ndarray, folds: np.ndarray, validation: tuple[list[str], np.ndarray] | None
    ) -> np.ndarray | None:
        """The members' own out-of-fold probabilities, combined: refitting every member per fold
        would repeat their training stages. None when a member was trained without CV."""
        files = [self.models_dir / kind / CV_PROBA_FILE for kind in self.meta.params["members"]]
        if not all(f.exists() for f in files):
            return None
        stacked = [np.load(f, allow_pickle=False) for f in files]
        if any(part.shape != np.shape(y) for part in stacked):
            raise ValueError(f"ensemble members' {CV_PROBA_FILE} do not match the train split; retrain them")
        return self._combine(stacked)

    def evidence(self, text: str, labels: list[str], k: int = 3, scored: Scores | None = None) -> dict[str, list[Span]]:
        """Members answer simplest first, each only for the labels still without sentences: scoring
        every sentence of a long report with the whole ensemble took minutes, while the cheap
        members take well under a second."""
        found: dict[str, list[Span]] = {label: [] for label in labels}
        rank = {spec.name: spec.rank for spec in registry.specs()}
        for kind in sorted(self.members, key=lambda name: (rank.get(name, 100), name)):
            missing = [label for label, sentences in found.items() if not sentences]
            if not missing:
                break
            part = scored.parts.get(kind) if scored is not None else None
            found |= self.members[kind].evidence(text, missing, k, part)
        return found

    def _save_weights(self, directory: Path) -> None:
        for kind, member in self.members.items():
            target = directory / MEMBERS_DIR / kind
            if target.exists():
                shutil.rmtree(target)
            member.save(target)

    def _load_weights(self, directory: Path, backend: str | None = None) -> None:
        self._load_members(directory / MEMBERS_DIR, backend)
