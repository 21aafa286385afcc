"""TF-IDF (word n-grams, optionally character n-grams; sublinear tf) with one-vs-rest logistic regression.

Class weights answer the rare labels; per-label thresholds tuned on validation answer the
miscalibration a 0.5 cut-off would show. Saved with skops and loaded against an explicit list of
trusted types, so a tampered model file cannot run code.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.config import TfidfConfig
from pipelines.modeling.base import ReviewClassifier
from pipelines.modeling.registry import register

MODEL_FILE = "model.skops"
# Exactly the types this pipeline is made of; skops refuses anything else at load time.
TRUSTED_TYPES = [
    "numpy.dtype",
    "numpy.float64",
    "numpy.int64",
    "scipy.sparse._csr.csr_matrix",
    "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.multiclass._ConstantPredictor",
    "sklearn.pipeline.FeatureUnion",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._label.LabelBinarizer",
]


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
        self.pipeline = build_pipeline(self.meta.params)
        self.pipeline.fit(texts, y)
        return self

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        proba = self.pipeline.predict_proba(list(texts))
        return np.asarray(proba, dtype=float).reshape(len(texts), len(self.labels))

    def _save_weights(self, directory: Path) -> None:
        import skops.io as sio

        # skops writes every numpy scalar as its own .npy entry: the vocabularies' numpy-int values made
        # ~22,000 of them and a 3-5 s load (the workbench's start-up). Plain ints are one JSON document.
        for _, vectorizer in self.pipeline.named_steps["features"].transformer_list:
            vectorizer.vocabulary_ = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
        sio.dump(self.pipeline, directory / MODEL_FILE)

    def _load_weights(self, directory: Path) -> None:
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        path = directory / MODEL_FILE
        try:
            pipeline = sio.load(path, trusted=TRUSTED_TYPES)
        except UntrustedTypesFoundException as exc:
            raise ValueError(f"{path}: refusing to load untrusted types ({exc})") from exc
        steps = getattr(pipeline, "named_steps", {})
        if type(pipeline).__name__ != "Pipeline" or set(steps) != {"features", "clf"}:
            raise ValueError(f"{path}: not a reviewtag TF-IDF pipeline ({type(pipeline).__name__})")
        self.pipeline = pipeline
