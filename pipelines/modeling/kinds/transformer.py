"""Transformer kind: the frozen encoder over overlapping token windows (`encoders`), a linear head
trained with BCE + pos_weight and early stopping on validation (`heads.train_linear_head`), and the
window probabilities pooled into the document's (`heads.pool`: max or mean), by the same code in
training and tagging.

Why windows: a long report is never truncated to its first 256 tokens; every window is read. Training
imports torch (the encoder, the head's training loop); a saved model tags with the ONNX encoder and
the head as arrays (`linear.LinearHead`), without torch, unless the backend says torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipelines.config import TransformerConfig
from pipelines.modeling import registry
from pipelines.modeling.encoder_kind import EncoderKind

if TYPE_CHECKING:
    from torch import nn

    from pipelines.modeling.linear import LinearHead

HEAD_FILE = "head.safetensors"


@registry.register("transformer", config=TransformerConfig, rank=2)
class TransformerClassifier(EncoderKind):
    """Frozen encoder over token windows, a linear head, window probabilities pooled per document."""

    config_class = TransformerConfig
    head_file = HEAD_FILE

    def windows(self, text: str) -> list[list[int]]:
        """The token windows this model reads `text` through."""
        return self.encoder.windows(text, self.config.stride, self.config.max_windows)

    def encode(self, texts: list[str], progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(window embeddings, the text each window belongs to)."""
        cfg = self.config
        return self.encoder.encode_windows(texts, cfg.stride, cfg.max_windows, self.cache, progress)

    def _doc_proba(self, head: LinearHead, emb: np.ndarray, owner: np.ndarray, n_docs: int) -> np.ndarray:
        from pipelines.modeling.linear import pool

        return pool(head.proba(emb), owner, n_docs, self.config.aggregation)

    def fit(self, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None = None):
        from pipelines.modeling.encoders import EmbeddingCache
        from pipelines.modeling.heads import HeadTraining, head_proba, mean_bce, pool, train_linear_head
        from pipelines.modeling.linear import LinearHead

        cfg = self.config
        if self.cache is None:  # training: fit, early stopping, tuning and CV encode each text once
            self.cache = EmbeddingCache()
        emb, owner = self.encode(texts, progress=True)
        validation_loss = None
        if validation is not None and len(validation[0]):
            v_emb, v_owner = self.encode(validation[0])
            truth = np.asarray(validation[1], dtype=float)

            def validation_loss(head: nn.Module) -> float:
                proba = pool(head_proba(head, v_emb), v_owner, len(truth), cfg.aggregation)
                return mean_bce(truth, np.clip(proba, 1e-6, 1 - 1e-6))

        settings = HeadTraining(
            learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            patience=cfg.patience,
            seed=cfg.seed,
            max_pos_weight=cfg.max_pos_weight,
            warmup_ratio=cfg.warmup_ratio,
        )
        target = np.asarray(y, dtype=np.float32)[owner]  # every window carries its document's labels
        head, trained = train_linear_head(emb, target, validation_loss, settings)
        self.head = LinearHead.from_torch(head)
        self.meta.extra |= {
            "best_epoch": trained.best_epoch,
            "best_val_loss": round(trained.best_loss, 4),
            "windows_capped": self.encoder.capped,
        }
        return self

    def predict_proba(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        emb, owner = self.encode(list(texts), progress=progress)
        return self._doc_proba(self.head, emb, owner, len(texts))
