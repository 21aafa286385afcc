"""TF-IDF (word n-grams, optionally character n-grams; sublinear tf) with one-vs-rest logistic regression.

Class weights answer the rare labels; per-label thresholds tuned on validation answer the
miscalibration a 0.5 cut-off would show. scikit-learn fits it; what it learnt is kept and applied as
plain arrays (`tfidf_arrays`: vocabularies as JSON, idf and coefficients as safetensors), so tagging
needs neither scikit-learn nor skops, and a tampered model file cannot run code.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.config import TfidfConfig
from pipelines.modeling.base import ReviewClassifier
from pipelines.modeling.registry import register
from pipelines.modeling.tfidf_arrays import TfidfArrays


def build_pipeline(params: dict):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline

    p = asdict(TfidfConfig(**params))  # the dataclass holds the only defaults
    parts = [
        (
            "word",
            TfidfVectorizer(
                ngram_range=(1, p["word_ngram_max"]),
                sublinear_tf=True,
                min_df=p["min_df"],
                max_features=p["max_features"],
                strip_accents="unicode",
                lowercase=True,
            ),
        )
    ]
    if p["char_ngram_max"]:  # 0 = words only: char n-grams cost most of the tagging time and model size
        parts.append(
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(p["char_ngram_min"], p["char_ngram_max"]),
                    sublinear_tf=True,
                    min_df=p["min_df"],
                    max_features=p["max_features"],
                    lowercase=True,
                ),
            )
        )
    features = FeatureUnion(parts)
    linear = LogisticRegression(C=p["C"], class_weight=p["class_weight"], max_iter=3000, random_state=p["seed"])
    return Pipeline([("features", features), ("clf", OneVsRestClassifier(linear))])


@register("tfidf_linear", config=TfidfConfig, rank=1)
class TfidfLinearClassifier(ReviewClassifier):
    """Word + char TF-IDF, one-vs-rest logistic regression, class weights, per-label thresholds."""

    def fit(self, texts: list[str], y: np.ndarray, validation=None) -> TfidfLinearClassifier:
        pipeline = build_pipeline(self.meta.params)
        pipeline.fit(texts, y)
        self.arrays = TfidfArrays.from_sklearn(pipeline)  # training scores through the path that ships
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        proba = self.arrays.predict_proba(list(texts))
        return np.asarray(proba, dtype=float).reshape(len(texts), len(self.labels))

    def _save_weights(self, directory: Path) -> None:
        self.arrays.save(directory)

    def _load_weights(self, directory: Path, backend: str | None = None) -> None:
        self.arrays = TfidfArrays.load(directory)
        if self.arrays.coef.shape[0] != len(self.labels):
            raise ValueError(f"{directory}: {self.arrays.coef.shape[0]} regressions for {len(self.labels)} labels")
