"""Model kinds behind one interface. Only the encoder kinds (transformer, items, quoted_items) import torch."""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.classifiers.base import META_FILE, ModelMeta, ReviewClassifier, tune_thresholds

KINDS = ("lexicon", "tfidf_linear", "transformer", "items", "quoted_items", "ensemble")

__all__ = [
    "KINDS",
    "META_FILE",
    "ModelMeta",
    "ReviewClassifier",
    "classifier_class",
    "load_classifier",
    "tune_thresholds",
]


def classifier_class(kind: str) -> type[ReviewClassifier]:
    if kind == "lexicon":
        from pipelines.classifiers.lexicon import LexiconClassifier

        return LexiconClassifier
    if kind == "tfidf_linear":
        from pipelines.classifiers.tfidf import TfidfLinearClassifier

        return TfidfLinearClassifier
    if kind == "transformer":
        from pipelines.classifiers.transformer import TransformerClassifier

        return TransformerClassifier
    if kind == "items":
        from pipelines.classifiers.items import ItemsClassifier

        return ItemsClassifier
    if kind == "quoted_items":
        from pipelines.classifiers.quoted import QuotedItemsClassifier

        return QuotedItemsClassifier
    if kind == "ensemble":
        from pipelines.classifiers.ensemble import EnsembleClassifier

        return EnsembleClassifier
    raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")


def load_classifier(directory: str | Path) -> ReviewClassifier:
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{directory}: not a reviewtag model directory (no {META_FILE})")
    from pipelines.classifiers.routed import RoutedClassifier, is_routed

    if is_routed(directory):  # a learned kind with lexicon rules for its few-shot labels
        return RoutedClassifier.load(directory)
    kind = json.loads(meta_path.read_text(encoding="utf-8"))["kind"]
    return classifier_class(kind).load(directory)
