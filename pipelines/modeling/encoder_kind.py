"""What the encoder kinds share (SetFit's body + head): a frozen encoder, a training cache handed to
cross-validation twins, a head kept as arrays, and saving or loading both. `transformer` (windows,
a head trained in torch) and `quoted_items` (items, logistic regressions on the quoted items) differ
only in how they read a document and fit their head.

torch is imported only when a model is built for training (`FrozenEncoder`) or saved: a loaded model
tags with the backend its settings or the caller choose (`backends.load_encoder`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pipelines.config import EncoderConfig, default_base_model
from pipelines.modeling.base import HAND_TAUGHT, ReviewClassifier

if TYPE_CHECKING:
    from pipelines.modeling.encoding import EmbeddingCache, EncoderBase
    from pipelines.modeling.linear import LinearHead


class EncoderKind(ReviewClassifier):
    """A frozen encoder and a head; subclasses set `config_class` and `head_file`."""

    config_class: ClassVar[type[EncoderConfig]]
    head_file: ClassVar[str]

    def __init__(
        self,
        task: str,
        labels: list[str],
        params: dict | None = None,
        encoder: EncoderBase | None = None,
        cache: EmbeddingCache | None = None,
    ):
        from pipelines.modeling.encoders import FrozenEncoder

        config = self.config_class(**(params or {}))
        super().__init__(task, labels, asdict(config))
        self.config = config
        # meta.json keeps base_model as configured ("" = the packaged MiniLM), never this machine's path
        self.encoder = encoder or FrozenEncoder(config.base_model or default_base_model(), config)
        # Set by `fit` (or passed in): what this model and its cross-validation twins have encoded.
        self.cache = cache
        self.head: LinearHead | None = None  # set by fit (kept as arrays) or load

    def fresh(self) -> EncoderKind:
        """An unfitted twin sharing the encoder and the training cache (for cross-validation), taught
        by hand-written items for the same labels as this model (chosen on the whole training split)."""
        twin = type(self)(self.meta.task, self.labels, asdict(self.config), self.encoder, self.cache)
        if HAND_TAUGHT in self.meta.extra:
            twin.meta.extra[HAND_TAUGHT] = list(self.meta.extra[HAND_TAUGHT])
        return twin

    def _save_weights(self, directory: Path) -> None:
        from pipelines.modeling.encoders import save_encoder

        self.head.save(directory / self.head_file)
        save_encoder(directory, self.encoder)

    def _load_weights(self, directory: Path, backend: str | None = None) -> None:
        from pipelines.modeling.backends import load_encoder
        from pipelines.modeling.encoding import config_from_saved
        from pipelines.modeling.linear import LinearHead

        self.config = config_from_saved(self.config_class, self.meta.params)
        self.encoder = load_encoder(directory, self.config, backend)
        self.head = LinearHead.load(directory / self.head_file)
        self.cache = None  # tagging: only whole identical calls are reused
