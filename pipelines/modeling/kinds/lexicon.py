"""Interpretable rule baseline: phrase patterns per label (data/lexicon.yaml), matched in the text.

Its probability is crude on purpose, 1 - 0.5**(distinct patterns matched), so it fits the shared
interface; thresholds tuned on validation then pick how many matches a label needs. Its evidence
is exact: the sentences where a pattern matched.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import numpy as np
import yaml

from pipelines import paths
from pipelines.config import LexiconConfig
from pipelines.modeling.base import ReviewClassifier, Scores, Span
from pipelines.modeling.registry import register
from pipelines.text import sentence_spans


def compile_patterns(patterns: dict[str, list[str]]) -> dict[str, list[re.Pattern[str]]]:
    return {label: [re.compile(rf"(?<![\w-]){p}(?![\w-])", re.I) for p in items] for label, items in patterns.items()}


@register("lexicon", config=LexiconConfig, rank=0)
class LexiconClassifier(ReviewClassifier):
    """Phrase patterns per label (data/lexicon.yaml); thresholds tuned on validation."""

    def __init__(self, task: str, labels: list[str], params: dict | None = None, lexicon_path: str | Path = ""):
        super().__init__(task, labels, {})
        source = paths.resolve(lexicon_path or (params or {}).get("lexicon") or LexiconConfig().lexicon)
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
        missing = [label for label in self.labels if label not in raw["patterns"]]
        if missing:
            raise ValueError(f"{source}: no patterns for {missing}")
        self.patterns = {label: [str(p) for p in raw["patterns"][label]] for label in self.labels}
        self.meta.extra["lexicon_version"] = str(raw.get("version", ""))
        self._compiled = compile_patterns(self.patterns)

    def fit(self, texts: list[str], y: np.ndarray, validation=None) -> LexiconClassifier:
        return self  # nothing to learn but thresholds, which `tune` sets on validation

    def fresh(self) -> LexiconClassifier:
        return copy.copy(self)

    def match_counts(self, texts: list[str]) -> np.ndarray:
        counts = np.zeros((len(texts), len(self.labels)), dtype=float)
        for i, text in enumerate(texts):
            for j, label in enumerate(self.labels):
                counts[i, j] = sum(1 for pattern in self._compiled[label] if pattern.search(text))
        return counts

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return 1.0 - np.power(0.5, self.match_counts(texts))

    def evidence(self, text: str, labels: list[str], k: int = 3, scored: Scores | None = None) -> dict[str, list[Span]]:
        spans = sentence_spans(text)
        sentences = [text[a:b] for a, b in spans]
        out: dict[str, list[Span]] = {}
        for label in labels:
            scored = [(sum(bool(p.search(s)) for p in self._compiled[label]), i) for i, s in enumerate(sentences)]
            best = sorted((item for item in scored if item[0] > 0), key=lambda item: (-item[0], item[1]))[:k]
            out[label] = [spans[i] for _, i in best]
        return out

    def _save_weights(self, directory: Path) -> None:
        (directory / "patterns.json").write_text(json.dumps(self.patterns, indent=2) + "\n", encoding="utf-8")

    def _load_weights(self, directory: Path, backend: str | None = None) -> None:
        self.patterns = json.loads((directory / "patterns.json").read_text(encoding="utf-8"))
        self._compiled = compile_patterns(self.patterns)
