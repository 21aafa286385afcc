"""Item-level classifier: the frozen encoder embeds each item of a review (list items, sentences),
a linear head scores every item for every label, and the item probabilities are pooled into the
review's (multiple-instance learning: a review has a label when some item states it).

Why: a whole summary or a 256-token window is one vector, but a review states each theme in one
item of a list. Why a description prior: a label with a handful of examples cannot be learned from
them alone; the head starts from the similarity between an item and the label's guideline text
("applies when ...") and is pulled back towards it while it learns, so every contract label has a
way to be assigned. Evidence is the top items of the same scores that made the prediction.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pipelines.classifiers.base import ReviewClassifier, Span
from pipelines.classifiers.transformer import WindowEncoder, load_encoder_and_head, save_encoder_and_head
from pipelines.classifiers.transformer_config import ItemsConfig, default_base_model
from pipelines.items import item_spans

HEAD_FILE = "item_head.safetensors"
PRIOR_FILE = "item_prior.safetensors"


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
    """(docs, items, labels) probabilities, (docs, items) mask -> (docs, labels)."""
    masked = item_proba * mask[..., None]
    if how == "max":
        return masked.max(dim=1).values
    if how == "noisy_or":
        return 1 - torch.exp(torch.log1p(-masked.clamp(max=1 - 1e-6)).sum(dim=1))
    # mean_top2, robust to one stray item: padding sorts last, and a one-item review averages one value
    padded = torch.where(mask[..., None] > 0, item_proba, torch.full_like(item_proba, -1.0))
    top = padded.topk(min(2, padded.shape[1]), dim=1).values.clamp(min=0)
    return top.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(max=2, min=1)


class ItemsClassifier(ReviewClassifier):
    kind = "items"
    config_class: type[ItemsConfig] = ItemsConfig  # subclasses with more parameters name theirs

    def __init__(self, task: str, labels: list[str], params: dict | None = None, encoder: WindowEncoder | None = None):
        config = self.config_class(**(params or {}))
        config.base_model = config.base_model or default_base_model()
        super().__init__(task, labels, asdict(config))
        self.config = config
        self.encoder = encoder or WindowEncoder(config.base_model, config)
        self.head = nn.Linear(self.encoder.dim, len(self.labels))
        self.prior: dict[str, torch.Tensor] = {}
        self._last: dict[str, tuple[list[Span], np.ndarray]] = {}  # text hash -> (items, item probabilities)

    def fresh(self) -> ItemsClassifier:
        # the shared encoder holds the item cache: cross-validation encodes every item once
        return type(self)(self.meta.task, self.labels, asdict(self.config), encoder=self.encoder)

    # --- items and their embeddings -----------------------------------------------------------
    def _items(self, texts: list[str]) -> tuple[list[list[Span]], np.ndarray, np.ndarray]:
        """Item spans per text, the item embeddings, and the text each item belongs to."""
        spans = [item_spans(t, self.config.max_items) or [(0, len(t))] for t in texts]
        pieces = [t[a:b] for t, found in zip(texts, spans, strict=True) for a, b in found]
        owner = np.concatenate([np.full(len(found), i) for i, found in enumerate(spans)]) if spans else np.zeros(0, int)
        return spans, self._embed(pieces), owner

    def _embed(self, pieces: list[str]) -> np.ndarray:
        return self.encoder.embed_items(pieces, self.config.max_item_tokens)

    @staticmethod
    def _padded(emb: np.ndarray, owner: np.ndarray, n_docs: int) -> tuple[torch.Tensor, torch.Tensor]:
        counts = np.bincount(owner, minlength=n_docs)
        x = torch.zeros((n_docs, max(int(counts.max(initial=1)), 1), emb.shape[1]))
        mask = torch.zeros(x.shape[:2])
        position = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
        x[owner, position] = torch.tensor(emb)  # a copy: cached embeddings are read-only
        mask[owner, position] = 1
        return x, mask

    # --- the head -------------------------------------------------------------------------------
    def _init_from_descriptions(self) -> None:
        """Head = scaled cosine similarity to each label's description, centred on the similarity of
        a typical item, so an item close to the description starts out probable."""
        text = label_descriptions(self.config.descriptions, self.labels)
        described = self._embed([text[label] for label in self.labels])
        weight = torch.from_numpy(described) * self.config.prior_strength
        self.prior = {"weight": weight, "bias": torch.full((len(self.labels),), -0.5 * self.config.prior_strength)}
        self.head.load_state_dict({k: v.clone() for k, v in self.prior.items()})

    def _logits_pooled(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        item_proba = torch.sigmoid(self.head(x))
        return pool(item_proba, mask, self.config.pooling), item_proba

    def fit(self, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None = None):
        cfg = self.config
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        self.encoder.keep_cache = True
        self._init_from_descriptions()
        _, emb, owner = self._items(texts)
        x, mask = self._padded(emb, owner, len(texts))
        target = torch.from_numpy(np.asarray(y, dtype=np.float32))
        positives = target.sum(0)
        pos_weight = ((len(target) - positives) / positives.clamp(min=1)).clamp(max=cfg.max_pos_weight)
        val = None
        if validation is not None and len(validation[0]):
            _, v_emb, v_owner = self._items(validation[0])
            val = (*self._padded(v_emb, v_owner, len(validation[0])), np.asarray(validation[1], dtype=float))
        optimizer = torch.optim.AdamW(self.head.parameters(), lr=cfg.learning_rate, weight_decay=0.0)
        best_loss, best_state, best_epoch, stale = float("inf"), None, 0, 0
        for epoch in range(cfg.epochs):
            for batch in torch.randperm(len(x), generator=generator).split(cfg.batch_size):
                optimizer.zero_grad()
                proba = self._logits_pooled(x[batch], mask[batch])[0].clamp(1e-6, 1 - 1e-6)
                t = target[batch]
                loss = -(pos_weight * t * torch.log(proba) + (1 - t) * torch.log(1 - proba)).mean()
                drift = sum(((p - self.prior[n]) ** 2).sum() for n, p in self.head.named_parameters())
                (loss + cfg.prior_decay * drift).backward()
                optimizer.step()
            if val is None:
                continue
            with torch.no_grad():
                proba = self._logits_pooled(val[0], val[1])[0].clamp(1e-6, 1 - 1e-6).double().numpy()
            val_loss = float(-(val[2] * np.log(proba) + (1 - val[2]) * np.log(1 - proba)).mean())
            if val_loss < best_loss - 1e-5:
                best_loss, best_epoch, stale = val_loss, epoch + 1, 0
                best_state = {k: v.detach().clone() for k, v in self.head.state_dict().items()}
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        if best_state is not None:
            self.head.load_state_dict(best_state)
        self.meta.extra |= {"best_epoch": best_epoch, "best_val_loss": round(best_loss, 4)}
        return self

    def predict_proba(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        spans, emb, owner = self._items(list(texts))
        x, mask = self._padded(emb, owner, len(texts))
        with torch.no_grad():
            doc, items = self._logits_pooled(x, mask)
        # kept for `evidence`: the labels and their evidence come from the same item scores
        self._last = {
            hashlib.sha1(t.encode("utf-8")).hexdigest(): (spans[i], items[i, : len(spans[i])].double().numpy())
            for i, t in enumerate(texts)
        }
        return doc.double().numpy()

    def evidence(self, text: str, labels: list[str], k: int = 3) -> dict[str, list[Span]]:
        key = hashlib.sha1(text.encode("utf-8")).hexdigest()
        if key not in self._last:
            self.predict_proba([text])
        spans, proba = self._last[key]
        out: dict[str, list[Span]] = {}
        for label in labels:
            j = self.meta.label2id[label]
            order = np.argsort(-proba[:, j], kind="stable")[:k]
            out[label] = [spans[i] for i in order if proba[i, j] >= 0.5 * proba[order[0], j]]
        return out

    # --- persistence ----------------------------------------------------------------------------
    def _save_weights(self, directory: Path) -> None:
        save_encoder_and_head(directory, self.encoder, self.head, HEAD_FILE)
        if self.prior:  # kinds that start from no description prior have none to keep
            save_file({k: v.contiguous() for k, v in self.prior.items()}, str(directory / PRIOR_FILE))

    def _load_weights(self, directory: Path) -> None:
        self.config = self.config_class(**self.meta.params)
        self.encoder, self.head = load_encoder_and_head(directory, self.config, len(self.labels), HEAD_FILE)
        prior = directory / PRIOR_FILE
        self.prior = load_file(str(prior)) if prior.is_file() else {}
        self._last = {}
