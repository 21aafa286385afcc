"""Quoted-items kind: the frozen encoder over a review's items (`encoders`; items from
`pipelines.items.item_spans`), a per-label logistic regression taught by the readers' quotes
(`heads.logistic_head`), and max pooling, so a review's probability for a label is its best item's and
its evidence is that same item.

Every reader label carries a verbatim quote of the passage that states it (`pipelines.labels.quotes`).
The quote falls in one item of the review, and that item is a labelled positive; every item of a review
without the label is a negative; the other items of a review with the label are left out, since they
may or may not say it. A training review's positives are the items where the label's quotes (from any
review) occur in its text.

Evidence is read from the item scores `score()` returned with the prediction (`Scores.items`); nothing
is kept between calls, so no evidence depends on what was scored before. torch is imported when a model
is built or loaded, never when this module is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pipelines.config import QuotedItemsConfig
from pipelines.modeling import registry
from pipelines.modeling.base import HAND_TAUGHT, ItemScores, Scores, Span
from pipelines.modeling.encoder_kind import EncoderKind

if TYPE_CHECKING:
    from pipelines.labels.hand_items import HandItem

HEAD_FILE = "item_head.safetensors"


def items_of(proba: np.ndarray, owner: np.ndarray, spans: list[list[Span]]) -> list[ItemScores]:
    """Item probabilities (items laid end to end, in document order) → each document's ItemScores."""
    first = np.searchsorted(owner, np.arange(len(spans)))
    return [ItemScores(found, proba[a : a + len(found)]) for found, a in zip(spans, first, strict=True)]


def item_evidence(items: ItemScores, columns: dict[str, int], labels: list[str], k: int) -> dict[str, list[Span]]:
    """Per label, the top `k` items by probability that reach half the best item's: the items that
    made the prediction, without padding the answer with weak ones."""
    out: dict[str, list[Span]] = {}
    for label in labels:
        j = columns[label]
        order = np.argsort(-items.proba[:, j], kind="stable")[:k]
        out[label] = [items.spans[i] for i in order if items.proba[i, j] >= 0.5 * items.proba[order[0], j]]
    return out


@registry.register("quoted_items", config=QuotedItemsConfig, rank=3)
class QuotedItemsClassifier(EncoderKind):
    """Items taught by the readers' quotes: per-label logistic regression, a review scored by its best item."""

    config_class = QuotedItemsConfig
    head_file = HEAD_FILE

    def items(self, texts: list[str]) -> tuple[list[list[Span]], np.ndarray, np.ndarray]:
        """Item spans per text, the item embeddings, and the text each item belongs to."""
        cfg = self.config
        return self.encoder.document_items(texts, cfg.max_items, cfg.max_item_tokens, self.cache)

    @classmethod
    def taught_without_reviews(cls, task: str, params: dict) -> set[str]:
        """The labels with at least `min_hand_items` hand-written positives: learned from those items
        even where the corpus has too few reviews of them."""
        from pipelines.labels.hand_items import known_labels, load_hand_items, positives_per_label

        config = cls.config_class(**params)
        counts = positives_per_label(load_hand_items(config.hand_items, task, known_labels()))
        return {label for label, n in counts.items() if n >= config.min_hand_items}

    def hand_examples(self) -> tuple[list[HandItem], np.ndarray | None]:
        """This task's hand-written items (pipelines/labels/hand_items.py) and their embeddings, through
        the training cache (cross-validation twins share it, so each sentence is encoded once)."""
        from pipelines.labels.hand_items import known_labels, load_hand_items

        hand = load_hand_items(self.config.hand_items, self.meta.task, known_labels())
        texts = [item.text for item in hand]
        return hand, self.encoder.embed_items(texts, self.config.max_item_tokens, self.cache) if hand else None

    def fit(self, texts: list[str], y: np.ndarray, validation=None) -> QuotedItemsClassifier:
        """Validation is not needed: a logistic regression has no epochs to stop early. Hand-written
        items supplement the labels `training.build` found too few training reviews of
        (`meta.extra["hand_taught"]`): positives where they state it, negatives elsewhere. Such a
        label is fitted without class balancing, at `hand_items_C`: balanced weights would lift every
        review item that merely shares the written sentences' register (a sofa death read as
        exploitation at 0.7), while unbalanced, only items close to the examples score high."""
        from pipelines.labels.quotes import load_quotes, quoted_items
        from pipelines.modeling.encoding import EmbeddingCache
        from pipelines.modeling.heads import logistic_head, quoted_examples
        from pipelines.modeling.linear import LinearHead

        quotes = load_quotes(self.config.quotes, self.meta.task)
        if self.cache is None:  # training: fit, tuning and CV encode each item once
            self.cache = EmbeddingCache()
        spans, emb, _ = self.items(texts)
        counts = [len(found) for found in spans]
        examples = []
        for j, label in enumerate(self.labels):
            labelled = np.flatnonzero(y[:, j]).tolist()
            positives = {i: quoted_items(texts[i], spans[i], quotes.get(label, ())) for i in labelled}
            examples.append(quoted_examples(counts, np.asarray(y[:, j], dtype=bool), positives))
        taught = set(self.meta.extra.get(HAND_TAUGHT, [])) & set(self.labels)
        hand, hand_emb = self.hand_examples() if taught else ([], None)
        # only the labels training.build found short of reviews: for the others they would dilute the quotes
        supplemented = taught if hand else set()
        if supplemented:
            first = len(emb)
            emb = np.concatenate([emb, hand_emb.astype(emb.dtype)])
            for (rows, targets), label in zip(examples, self.labels, strict=True):
                if label in supplemented:
                    rows += range(first, first + len(hand))
                    targets += [int(label in item.labels) for item in hand]
        strengths = [self.config.hand_items_C if label in supplemented else self.config.C for label in self.labels]
        balanced = [label not in supplemented for label in self.labels]
        self.head = LinearHead.from_torch(logistic_head(emb, examples, strengths, balanced))
        # positives per label: what each label learned from (hand-written ones included, also apart)
        self.meta.extra["quoted_items"] = {
            label: int(sum(t)) for label, (_, t) in zip(self.labels, examples, strict=True)
        }
        self.meta.extra["hand_items"] = {
            label: sum(label in item.labels for item in hand) if label in supplemented else 0 for label in self.labels
        }
        return self

    def score(self, texts: list[str]) -> Scores:
        """Document probabilities (each the best item's) and every document's item probabilities."""
        from pipelines.modeling.linear import pool

        if not texts:
            return Scores(np.zeros((0, len(self.labels))), items=[])
        spans, emb, owner = self.items(list(texts))
        proba = self.head.proba(emb)
        return Scores(pool(proba, owner, len(texts), "max"), items=items_of(proba, owner, spans))

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.score(texts).proba

    def evidence(self, text: str, labels: list[str], k: int = 3, scored: Scores | None = None) -> dict[str, list[Span]]:
        """The items behind the prediction, read from `scored` (this text's row of `score()`), scored
        afresh only when the caller has none."""
        if not labels:
            return {}
        if scored is None or scored.items is None:
            scored = self.score([text])
        return item_evidence(scored.items[0], self.meta.label2id, labels, k)
