"""A learned model for the labels it has examples for, hand-written rules for the rest.

`split.min_support` decides which labels have enough training reviews to be learned per label. The
others (the "few-shot" labels: on reader labels, 5 harms such as criminal exploitation and harmful
sexual behaviour) must still be predicted, because they are among the harms analysts most need
flagged. A classifier fitted on one or two positives learns noise, so those labels take the lexicon
route: the phrase patterns of `data/lexicon.yaml`, scored as in the lexicon kind (1 - 0.5**matches),
with their thresholds tuned on validation like every other label (one match when validation has no
positive). Evidence for a rule label is the sentence where its pattern matched.

The wrapper keeps the inner kind's name (`meta.kind`), so evaluation, MLflow and the CLI see one
"tfidf_linear" model over all labels; `meta.wrapper` = "routed" says how to load it, and
`meta.extra["routes"]` records which label took which route. On disk: `meta.json` of the whole,
`learned/` (the inner model) and `rules/` (the lexicon model).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipelines.modeling import registry
from pipelines.modeling.base import ModelMeta, ReviewClassifier, Scores, Span
from pipelines.modeling.kinds.lexicon import LexiconClassifier

LEARNED_DIR = "learned"
RULES_DIR = "rules"


@registry.register("routed", role="wrapper")
class RoutedClassifier(ReviewClassifier):
    """A learned kind for its well-supported labels, the lexicon's rules for the few-shot ones."""

    def __init__(self, learned: ReviewClassifier, rules: LexiconClassifier):
        overlap = set(learned.labels) & set(rules.labels)
        if overlap or learned.meta.task != rules.meta.task:
            raise ValueError(f"routed model: learned and rule labels must be disjoint, same task (both: {overlap})")
        self.learned, self.rules = learned, rules
        labels = sorted([*learned.labels, *rules.labels])
        self.meta = ModelMeta(
            learned.kind, learned.meta.task, labels, [0.5] * len(labels), params=learned.meta.params, wrapper="routed"
        )
        self.meta.extra["routes"] = {label: ("learned" if label in learned.labels else "lexicon") for label in labels}
        self._index()

    def _index(self) -> None:
        self._learned_cols = [self.labels.index(label) for label in self.learned.labels]
        self._rule_cols = [self.labels.index(label) for label in self.rules.labels]

    def _learned_part(self, y: np.ndarray) -> np.ndarray:
        return np.asarray(y)[:, self._learned_cols]

    def _assemble(self, learned: np.ndarray, rules: np.ndarray) -> np.ndarray:
        proba = np.zeros((learned.shape[0], len(self.labels)), dtype=float)
        proba[:, self._learned_cols] = learned
        proba[:, self._rule_cols] = rules
        return proba

    def fit(self, texts: list[str], y: np.ndarray, validation=None) -> RoutedClassifier:
        pair = None if validation is None else (validation[0], self._learned_part(validation[1]))
        self.learned.fit(texts, self._learned_part(y), validation=pair)
        return self

    def fresh(self) -> RoutedClassifier:
        return RoutedClassifier(self.learned.fresh(), self.rules.fresh())

    def out_of_fold_proba(self, texts, y, folds, validation) -> np.ndarray | None:
        pair = None if validation is None else (validation[0], self._learned_part(validation[1]))
        learned = self.learned.out_of_fold_proba(texts, self._learned_part(y), folds, pair)
        if learned is None:
            return None
        return self._assemble(learned, self.rules.predict_proba(texts))  # rules learn nothing: no fold to hold out

    def score(self, texts: list[str]) -> Scores:
        parts = {LEARNED_DIR: self.learned.score(texts), RULES_DIR: self.rules.score(texts)}
        return Scores(self._assemble(parts[LEARNED_DIR].proba, parts[RULES_DIR].proba), parts=parts)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.score(texts).proba

    def tune(self, texts: list[str], y: np.ndarray) -> np.ndarray:
        thresholds = super().tune(texts, y)
        self.learned.meta.thresholds = thresholds[self._learned_cols].tolist()
        self.rules.meta.thresholds = thresholds[self._rule_cols].tolist()
        return thresholds

    def evidence(self, text: str, labels: list[str], k: int = 3, scored: Scores | None = None) -> dict[str, list[Span]]:
        learned = [label for label in labels if label in self.learned.labels]
        rules = [label for label in labels if label in self.rules.labels]
        parts = scored.parts if scored is not None else {}
        found = (
            self.learned.evidence(text, learned, k, parts.get(LEARNED_DIR))
            | self.rules.evidence(text, rules, k, parts.get(RULES_DIR))
            if labels
            else {}
        )
        return {label: found.get(label, []) for label in labels}

    def _save_weights(self, directory: Path) -> None:
        self.learned.save(directory / LEARNED_DIR)
        self.rules.save(directory / RULES_DIR)

    def _load_weights(self, directory: Path, backend: str | None = None) -> None:
        self.learned = registry.load_classifier(directory / LEARNED_DIR, backend)
        self.rules = registry.load_classifier(directory / RULES_DIR)
        self._index()
