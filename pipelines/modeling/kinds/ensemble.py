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
    """Weighted mean of the members' probabilities (lexicon + TF-IDF + quoted items by default), per
    label over the members with a vote of their own on it (`label_weights`)."""

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

    def label_weights(self) -> np.ndarray:
        """(members, labels) weights of the mean. A member that routes a label to the lexicon's rules
        (kinds/routed.py) repeats the lexicon member's score for it, so it has no vote of its own
        there: with the lexicon among the members it is left out for that label, and a label that
        one member learned is not outvoted by copies of the same rule. Labels every member learned,
        or every member routes, keep the configured weights."""
        kinds = list(self.meta.params["members"])
        weights = np.asarray(self.meta.params.get("weights", [1.0] * len(kinds)), dtype=float)
        matrix = np.repeat(weights[:, None], len(self.labels), axis=1)
        if "lexicon" not in kinds or not self.members:
            return matrix
        for m, kind in enumerate(kinds):
            routes = self.members[kind].meta.extra.get("routes", {}) if kind != "lexicon" else {}
            for j, label in enumerate(self.labels):
                if routes.get(label) == "lexicon":
                    matrix[m, j] = 0.0
        return matrix

    def few_shot_columns(self) -> list[int]:
        """The labels some member routes to the lexicon's rules (too few training reviews to learn)."""
        routes = [m.meta.extra.get("routes", {}) for kind, m in self.members.items() if kind != "lexicon"]
        return [j for j, label in enumerate(self.labels) if any(r.get(label) == "lexicon" for r in routes)]

    def combine(self, stacked: list[np.ndarray]) -> np.ndarray:
        """The weighted mean per label; for a few-shot label under `few_shot_combination: noisy_or`,
        the lexicon's rule score OR the mean of the members that learned it (taught by hand-written
        items): a pattern match alone carries the label as it did before any member learned it, and a
        learned member adds what no pattern says, instead of each diluting the other."""
        weights = self.label_weights()
        parts = np.stack(stacked)
        combined = np.einsum("ml,mnl->nl", weights / weights.sum(axis=0, keepdims=True), parts)
        kinds = list(self.meta.params["members"])
        if self.meta.params.get("few_shot_combination", "mean") != "noisy_or" or "lexicon" not in kinds:
            return combined
        rules = kinds.index("lexicon")
        for j in self.few_shot_columns():
            learned = [m for m in range(len(kinds)) if m != rules and weights[m, j] > 0]
            if learned:
                mean = np.average(parts[learned, :, j], axis=0, weights=weights[learned, j])
                combined[:, j] = 1 - (1 - parts[rules, :, j]) * (1 - mean)
        return combined

    def score(self, texts: list[str]) -> Scores:
        parts = {kind: member.score(texts) for kind, member in self.members.items()}
        return Scores(self.combine([part.proba for part in parts.values()]), parts=parts)

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
        return self.combine(stacked)

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
