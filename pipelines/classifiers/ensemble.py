"""Weighted average of other trained models' probabilities, with its own validation-tuned thresholds.

Members are copied into the ensemble's directory, so a saved (or MLflow-logged) ensemble is
self-contained. Evidence comes from the members, the interpretable lexicon first, then the cheapest that has an answer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from pipelines.classifiers.base import CV_PROBA_FILE, ReviewClassifier, Span

MEMBERS_DIR = "members"
EVIDENCE_ORDER = ("lexicon", "tfidf_linear", "transformer")


class EnsembleClassifier(ReviewClassifier):
    kind = "ensemble"

    def __init__(self, task: str, labels: list[str], params: dict | None = None, models_dir: str | Path = "models"):
        super().__init__(task, labels, params)
        members = list(self.meta.params.get("members", []))
        weights = list(self.meta.params.get("weights", [1.0] * len(members)))
        if len(members) < 2 or len(weights) != len(members) or min(weights) < 0 or sum(weights) <= 0:
            raise ValueError("ensemble needs >= 2 members and one non-negative weight per member")
        self.models_dir = Path(models_dir) / task
        self.members: dict[str, ReviewClassifier] = {}

    def _load_members(self, root: Path) -> None:
        from pipelines.classifiers import load_classifier

        self.members = {}
        for kind in self.meta.params["members"]:
            member = load_classifier(root / kind)
            if member.labels != self.labels:
                raise ValueError(f"ensemble member {kind} has labels {member.labels}, expected {self.labels}")
            self.members[kind] = member

    def fit(self, texts: list[str], y: np.ndarray, validation=None) -> EnsembleClassifier:
        self._load_members(self.models_dir)
        return self

    def _combine(self, stacked: list[np.ndarray]) -> np.ndarray:
        weights = np.asarray(self.meta.params.get("weights", [1.0] * len(stacked)), dtype=float)
        return np.tensordot(weights / weights.sum(), np.stack(stacked), axes=1)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self._combine([member.predict_proba(texts) for member in self.members.values()])

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

    def evidence(self, text: str, labels: list[str], k: int = 3) -> dict[str, list[Span]]:
        """Members answer in order of cost (lexicon, TF-IDF, then the rest), each only for the labels
        still without sentences: scoring every sentence of a long report with the whole ensemble
        (transformer included) took minutes, while the cheap members take well under a second."""
        found: dict[str, list[Span]] = {label: [] for label in labels}
        order = sorted(self.members, key=lambda kind: EVIDENCE_ORDER.index(kind) if kind in EVIDENCE_ORDER else 99)
        for kind in order:
            missing = [label for label, sentences in found.items() if not sentences]
            if not missing:
                break
            found |= self.members[kind].evidence(text, missing, k)
        return found

    def _save_weights(self, directory: Path) -> None:
        for kind, member in self.members.items():
            target = directory / MEMBERS_DIR / kind
            if target.exists():
                shutil.rmtree(target)
            member.save(target)

    def _load_weights(self, directory: Path) -> None:
        self._load_members(directory / MEMBERS_DIR)
