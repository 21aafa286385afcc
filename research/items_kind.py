"""Item-level multiple-instance classifier (research only; registered under no name): the shipped frozen
encoder embeds each item of a review (`pipelines.modeling.encoders`), a linear head scores every item for
every label, and the item probabilities are pooled into the review's (a review has a label when some
item states it), trained by the shipped head loop (`pipelines.modeling.heads.train_head`).

Why: a whole summary or a 256-token window is one vector, but a review states each theme in one item of
a list. Why a description prior: a label with a handful of examples cannot be learned from them alone;
the head starts from the similarity between an item and the label's guideline text ("applies when ...")
and is pulled back towards it while it learns, so every contract label has a way to be assigned. The
shipped `quoted_items` kind replaced it: the readers' quotes say which item carries a label, where this
kind has to infer it through the pooling (`python -m research.items_search` measures it).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from pipelines.config import EncoderConfig, default_base_model
from pipelines.modeling import heads
from pipelines.modeling.backends import load_encoder
from pipelines.modeling.base import ItemScores, ReviewClassifier, Scores, Span
from pipelines.modeling.encoders import EmbeddingCache, FrozenEncoder, config_from_saved, save_encoder
from pipelines.modeling.kinds.quoted_items import item_evidence

HEAD_FILE = "item_head.safetensors"
PRIOR_FILE = "item_prior.safetensors"


@dataclass
class ItemsConfig(EncoderConfig):
    """The items kind's settings (the `items` section params.yaml had, and its values as defaults)."""

    max_item_tokens: int = 64  # tokens per item, special tokens included (list items are short)
    max_items: int = 400  # per document, evenly spread beyond it (long reports)
    pooling: str = "noisy_or"  # item probabilities -> review: max | noisy_or | mean_top2
    prior_strength: float = 10.0  # scale of the description prior the head starts from
    prior_decay: float = 0.001  # L2 pull of the head back towards that prior (keeps few-shot labels alive)
    descriptions: str = "data/gold/guidelines.md"  # label descriptions: the guidelines' "applies when"
    learning_rate: float = 0.01
    epochs: int = 200
    patience: int = 20
    max_pos_weight: float = 20.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 8 <= self.max_item_tokens <= self.max_length or self.max_items < 1:
            raise ValueError("items: max_item_tokens must be in [8, max_length] and max_items >= 1")
        if self.pooling not in ("max", "noisy_or", "mean_top2"):
            raise ValueError("items.pooling must be max, noisy_or or mean_top2")
        if self.prior_strength < 0 or self.prior_decay < 0 or self.epochs < 1 or self.patience < 1:
            raise ValueError("items: prior settings must be >= 0, epochs and patience >= 1")


def label_descriptions(path: str | Path, labels: list[str]) -> dict[str, str]:
    """'<label words>: <applies when>' from the guidelines' tables; the label's own words where the
    guidelines say nothing of it."""
    found: dict[str, str] = {}
    source = Path(path)
    if source.is_file():
        for line in source.read_text(encoding="utf-8").splitlines():
            row = re.match(r"^\|\s*`([a-z_]+)`\s*\|\s*([^|]+)\|", line)
            if row and row.group(1) in labels:
                found[row.group(1)] = row.group(2).strip()
    return {label: f"{label.replace('_', ' ')}: {found.get(label, '')}".strip(" :") for label in labels}


def pool(item_proba: torch.Tensor, mask: torch.Tensor, how: str) -> torch.Tensor:
    """(docs, items, labels) probabilities, (docs, items) mask -> (docs, labels), differentiable (the
    head learns through it; the shipped `heads.pool` only scores)."""
    masked = item_proba * mask[..., None]
    if how == "max":
        return masked.max(dim=1).values
    if how == "noisy_or":
        return 1 - torch.exp(torch.log1p(-masked.clamp(max=1 - 1e-6)).sum(dim=1))
    # mean_top2, robust to one stray item: padding sorts last, and a one-item review averages one value
    padded = torch.where(mask[..., None] > 0, item_proba, torch.full_like(item_proba, -1.0))
    top = padded.topk(min(2, padded.shape[1]), dim=1).values.clamp(min=0)
    return top.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(max=2, min=1)


def padded(emb: np.ndarray, owner: np.ndarray, n_docs: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Items laid end to end → (docs, most items, dim) and its (docs, most items) mask."""
    counts = np.bincount(owner, minlength=n_docs)
    x = torch.zeros((n_docs, max(int(counts.max(initial=1)), 1), emb.shape[1]))
    mask = torch.zeros(x.shape[:2])
    position = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    x[owner, position] = torch.tensor(emb)  # a copy: cached embeddings are read-only
    mask[owner, position] = 1
    return x, mask


class ItemsClassifier(ReviewClassifier):
    """Items pooled by multiple-instance learning from a label-description prior (research only)."""

    kind = "items"  # never registered: saved models load with `ItemsClassifier.load`

    def __init__(
        self,
        task: str,
        labels: list[str],
        params: dict | None = None,
        encoder: FrozenEncoder | None = None,
        cache: EmbeddingCache | None = None,
    ):
        config = ItemsConfig(**(params or {}))
        super().__init__(task, labels, asdict(config))
        self.config = config
        # meta.json keeps base_model as configured ("" = the packaged MiniLM), never this machine's path
        self.encoder = encoder or FrozenEncoder(config.base_model or default_base_model(), config)
        self.cache = cache
        self.head = heads.linear_head(self.encoder.dim, len(self.labels))
        self.prior: dict[str, torch.Tensor] = {}

    def fresh(self) -> ItemsClassifier:
        """An unfitted twin sharing the encoder and the training cache (for cross-validation)."""
        return ItemsClassifier(self.meta.task, self.labels, asdict(self.config), self.encoder, self.cache)

    def _items(self, texts: list[str]) -> tuple[list[list[Span]], np.ndarray, np.ndarray]:
        return self.encoder.document_items(texts, self.config.max_items, self.config.max_item_tokens, self.cache)

    def _init_from_descriptions(self) -> None:
        """Head = scaled cosine similarity to each label's description, centred on the similarity of
        a typical item, so an item close to the description starts out probable."""
        text = label_descriptions(self.config.descriptions, self.labels)
        pieces = [text[label] for label in self.labels]
        described = self.encoder.embed_items(pieces, self.config.max_item_tokens, self.cache)
        strength = self.config.prior_strength
        self.prior = {
            "weight": torch.from_numpy(described) * strength,
            "bias": torch.full((len(self.labels),), -0.5 * strength),
        }
        self.head.load_state_dict({k: v.clone() for k, v in self.prior.items()})

    def _pooled(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        item_proba = torch.sigmoid(self.head(x))
        return pool(item_proba, mask, self.config.pooling), item_proba

    def fit(self, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None = None):
        cfg = self.config
        if self.cache is None:
            self.cache = EmbeddingCache()
        self._init_from_descriptions()
        _, emb, owner = self._items(texts)
        x, mask = padded(emb, owner, len(texts))
        target = torch.from_numpy(np.asarray(y, dtype=np.float32))
        weight = heads.pos_weight(target, cfg.max_pos_weight)

        def batch_loss(batch: torch.Tensor) -> torch.Tensor:
            proba = self._pooled(x[batch], mask[batch])[0].clamp(1e-6, 1 - 1e-6)
            t = target[batch]
            loss = -(weight * t * torch.log(proba) + (1 - t) * torch.log(1 - proba)).mean()
            drift = sum(((p - self.prior[n]) ** 2).sum() for n, p in self.head.named_parameters())
            return loss + cfg.prior_decay * drift

        validation_loss = None
        if validation is not None and len(validation[0]):
            _, v_emb, v_owner = self._items(validation[0])
            v_x, v_mask = padded(v_emb, v_owner, len(validation[0]))
            truth = np.asarray(validation[1], dtype=float)

            def validation_loss(head: torch.nn.Module) -> float:
                with torch.no_grad():
                    proba = self._pooled(v_x, v_mask)[0].clamp(1e-6, 1 - 1e-6).double().numpy()
                return heads.mean_bce(truth, proba)

        settings = heads.HeadTraining(
            cfg.learning_rate, 0.0, cfg.epochs, cfg.batch_size, cfg.patience, cfg.seed, cfg.max_pos_weight
        )
        trained = heads.train_head(self.head, len(x), batch_loss, validation_loss, settings)
        self.meta.extra |= {"best_epoch": trained.best_epoch, "best_val_loss": round(trained.best_loss, 4)}
        return self

    def score(self, texts: list[str]) -> Scores:
        if not texts:
            return Scores(np.zeros((0, len(self.labels))), items=[])
        spans, emb, owner = self._items(list(texts))
        x, mask = padded(emb, owner, len(texts))
        with torch.no_grad():
            doc, items = self._pooled(x, mask)
        rows = [ItemScores(found, items[i, : len(found)].double().numpy()) for i, found in enumerate(spans)]
        return Scores(doc.double().numpy(), items=rows)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.score(texts).proba

    def evidence(self, text: str, labels: list[str], k: int = 3, scored: Scores | None = None) -> dict[str, list[Span]]:
        if not labels:
            return {}
        if scored is None or scored.items is None:
            scored = self.score([text])
        return item_evidence(scored.items[0], self.meta.label2id, labels, k)

    def _save_weights(self, directory: Path) -> None:
        heads.save_head(self.head, directory / HEAD_FILE)
        save_encoder(directory, self.encoder)
        if self.prior:
            save_file({k: v.contiguous() for k, v in self.prior.items()}, str(directory / PRIOR_FILE))

    def _load_weights(self, directory: Path, backend: str | None = None) -> None:
        self.config = config_from_saved(ItemsConfig, self.meta.params)
        self.encoder = load_encoder(directory, self.config, backend)
        self.head = heads.load_head(directory / HEAD_FILE)
        prior = directory / PRIOR_FILE
        self.prior = load_file(str(prior)) if prior.is_file() else {}
        self.cache = None
