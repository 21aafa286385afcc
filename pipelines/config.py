"""`params.yaml` sections as typed, validated dataclasses: the one source of configuration.

Each stage reads only its own section(s), so DVC reruns a stage only when a key it reads changes.
Unknown keys are errors: a typo in params.yaml must not silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

PARAMS_FILE = Path("params.yaml")
T = TypeVar("T")


class ConfigError(ValueError):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class IngestConfig:
    raw_dir: str = "data/raw"
    max_file_mb: int = 64

    def __post_init__(self) -> None:
        _check(self.max_file_mb > 0, "ingest.max_file_mb must be positive")


@dataclass
class CleanConfig:
    drop_truncated_tail: bool = True
    min_text_chars: int = 40

    def __post_init__(self) -> None:
        _check(self.min_text_chars >= 0, "clean.min_text_chars must be >= 0")


@dataclass
class DedupConfig:
    shingle_size: int = 3
    containment: float = 0.6  # share of the shorter text's shingles found in the other
    same_title_containment: float = 0.35  # looser when normalised titles agree

    def __post_init__(self) -> None:
        _check(self.shingle_size >= 1, "dedup.shingle_size must be >= 1")
        for name in ("containment", "same_title_containment"):
            _check(0 < getattr(self, name) <= 1, f"dedup.{name} must be in (0, 1]")


@dataclass
class LabelConfig:
    taxonomy: str = "data/taxonomy.yaml"
    contract: str = "data/taxonomy_contract.md"
    corrections: str = "data/corrections"  # reader decisions applied over the keyword labels
    on_unmapped: str = "error"  # error | warn

    def __post_init__(self) -> None:
        _check(self.on_unmapped in ("error", "warn"), "label.on_unmapped must be 'error' or 'warn'")


@dataclass
class SplitConfig:
    train_max_year: int = 2022
    test_years: list[int] = field(default_factory=lambda: [2023])
    validation_fraction: float = 0.2
    n_folds: int = 5
    min_support: int = 10
    seed: int = 42

    def __post_init__(self) -> None:
        _check(0 < self.validation_fraction < 0.5, "split.validation_fraction must be in (0, 0.5)")
        _check(self.n_folds >= 2, "split.n_folds must be >= 2")
        _check(self.min_support >= 1, "split.min_support must be >= 1")
        _check(
            all(y > self.train_max_year for y in self.test_years),
            "split.test_years must all be after split.train_max_year (temporal hold-out)",
        )


def load_params(path: str | Path = PARAMS_FILE) -> dict[str, Any]:
    path = Path(path)
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def from_dict(cls: type[T], data: dict[str, Any] | None, section: str = "") -> T:
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"params.yaml [{section or cls.__name__}]: unknown keys {unknown}")
    return cls(**data)


def load_section(section: str, cls: type[T], path: str | Path = PARAMS_FILE) -> T:
    return from_dict(cls, load_params(path).get(section), section)


@dataclass
class LexiconConfig:
    lexicon: str = "data/lexicon.yaml"


@dataclass
class TfidfConfig:
    word_ngram_max: int = 2
    char_ngram_min: int = 3
    char_ngram_max: int = 5  # 0 = word n-grams only: ~5x faster tagging (see params.yaml)
    min_df: int = 2
    max_features: int = 50000
    C: float = 4.0
    class_weight: str | None = "balanced"
    seed: int = 42

    def __post_init__(self) -> None:
        _check(self.word_ngram_max >= 1, "tfidf_linear.word_ngram_max must be >= 1")
        _check(
            self.char_ngram_max == 0 or 1 <= self.char_ngram_min <= self.char_ngram_max,
            "tfidf_linear char n-gram range is empty (char_ngram_max 0 turns char n-grams off)",
        )
        _check(self.C > 0, "tfidf_linear.C must be positive")
        _check(self.class_weight in (None, "balanced"), "tfidf_linear.class_weight must be null or 'balanced'")


@dataclass
class TrainConfig:
    cross_validate: bool = True

    def __post_init__(self) -> None:
        _check(isinstance(self.cross_validate, bool), "train.cross_validate must be true or false")


@dataclass
class EvaluateConfig:
    kinds: list[str] = field(default_factory=lambda: ["lexicon", "tfidf_linear", "transformer", "ensemble"])
    champion_metric: str = "macro_f1"
    # cv: train out-of-fold predictions with the validation-tuned thresholds (honest);
    # validation: the reviews the thresholds were tuned on (flatters the flexible models)
    champion_split: str = "cv"
    champion_alias: str = "champion"

    def __post_init__(self) -> None:
        _check(
            self.champion_metric in ("micro_f1", "macro_f1", "samples_f1"),
            "evaluate.champion_metric must be micro_f1, macro_f1 or samples_f1",
        )
        _check(self.champion_split in ("cv", "validation"), "evaluate.champion_split must be cv or validation")


@dataclass
class TrackingConfig:
    uri: str = "sqlite:///experiments/mlflow.db"  # MLFLOW_TRACKING_URI overrides it
    artifact_root: str = "experiments/mlartifacts"
    register: bool = True


@dataclass
class EnsembleConfig:
    members: list[str] = field(default_factory=lambda: ["transformer", "lexicon", "tfidf_linear"])
    weights: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])

    def __post_init__(self) -> None:
        _check(
            len(self.members) >= 2 and len(set(self.members)) == len(self.members),
            "ensemble.members must name >= 2 distinct model kinds",
        )
        _check("ensemble" not in self.members, "an ensemble cannot contain itself")
        _check(len(self.weights) == len(self.members), "ensemble.weights needs one weight per member")


KIND_SECTIONS: dict[str, type] = {"lexicon": LexiconConfig, "tfidf_linear": TfidfConfig, "ensemble": EnsembleConfig}


def kind_config(kind: str, path: str | Path = PARAMS_FILE):
    """The params section of one model kind (its section is named after the kind)."""
    if kind == "transformer":
        from pipelines.classifiers.transformer_config import TransformerConfig

        return load_section(kind, TransformerConfig, path)
    if kind == "items":
        from pipelines.classifiers.transformer_config import ItemsConfig

        return load_section(kind, ItemsConfig, path)
    if kind == "quoted_items":
        from pipelines.classifiers.transformer_config import QuotedItemsConfig

        return load_section(kind, QuotedItemsConfig, path)
    if kind not in KIND_SECTIONS:
        raise ConfigError(f"unknown model kind {kind!r}")
    return load_section(kind, KIND_SECTIONS[kind], path)


@dataclass
class ServeConfig:
    """`reviewtag serve`, the analysts' workbench."""

    max_upload_mb: int = 64  # one request (a batch of files); past it the answer is 413
    keep_batches: int = 50  # batches kept in the server's memory for viewing and export

    def __post_init__(self) -> None:
        _check(self.max_upload_mb > 0, "serve.max_upload_mb must be positive")
        _check(self.keep_batches >= 1, "serve.keep_batches must be >= 1")
