"""Item-level supervision from the readers' quotes: `python -m research.evidence_items_search` →
experiments/evidence_items_search.json and one MLflow run per candidate (experiment `head-search`).

The reader passes quote, for every label they gave, the passage that carries it. The quote falls in one
item of the review (a list item or a sentence: `pipelines/items.py`), and that item is a labelled
positive; every item of a review without the label is a negative; the other items of a review with the
label are left out (they may or may not say it). A per-label logistic regression on the frozen MiniLM
item embeddings learns from those items, and a review's probability is its best item's (max pooling).
This is the multiple-instance recipe with the instance labels the readers wrote, rather than learned
through the pooling. Scored as the champion is chosen, never on test: CV on the train folds with
validation-tuned thresholds, and validation with thresholds tuned on the out-of-fold rows. The lexicon
and its combinations with the item model are scored beside it.

What it runs is the shipped kind's parts: its encoder and item settings (`encoders`), its quote reader
and matcher (`pipelines.labels.quotes`), its head and pooling (`heads`). One difference is chosen: a
review's positives here come from its own readers' quotes, where the kind uses every quote of the label
that occurs in the review's text (quotes of other reviews included).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from pipelines.config import LexiconConfig, default_base_model, load_section
from pipelines.dataset import learnable_labels, load_task_data
from pipelines.labels.quotes import quoted_items, quoted_labels
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.kinds.lexicon import LexiconClassifier
from research.scoring import cross_fit, log_search_runs, search_scores

OUT = Path("experiments/evidence_items_search.json")
DECISIONS = Path("data/gold/passes/decisions")
log = logging.getLogger(__name__)
# texts -> (item spans per text, item embeddings, the text each item belongs to)
ItemEmbedder = Callable[[list[str]], tuple[list[list[tuple[int, int]]], np.ndarray, np.ndarray]]


def reader_quotes(task: str) -> dict[tuple[str, str], list[str]]:
    """(review id, label) -> the quotes both passes gave for it (blind labels and kept keyword labels)."""
    quotes: dict[tuple[str, str], list[str]] = {}
    for review_id, label, quote in quoted_labels([str(DECISIONS)], task):
        quotes.setdefault((review_id, label), []).append(quote)
    return quotes


class ItemData:
    """One task's train and validation reviews as the shipped quoted-items kind sees them: its items
    and their embeddings (train first, then validation, as the kind encodes them in training), and the
    items the readers' quotes mark, by the kind's own matcher (`pipelines.labels.quotes`)."""

    def __init__(self, task: str, embedder: ItemEmbedder):
        self.data = load_task_data(task, labels="all")
        self.frequent = learnable_labels(task)
        self.train, self.validation = self.data.splits["train"], self.data.splits["validation"]
        self.spans, self.emb = {}, {}
        for split in (self.train, self.validation):
            spans, emb, owner = embedder(split.texts)
            for i, rid in enumerate(split.ids):
                self.spans[rid], self.emb[rid] = spans[i], emb[owner == i]
        quotes = reader_quotes(task)
        self.positive: dict[tuple[str, int], set[int]] = {}  # (review, label index) -> item indices
        found = missed = 0
        for rid, text, y in zip(self.train.ids, self.train.texts, self.train.y, strict=True):
            for j in np.flatnonzero(y):
                items = quoted_items(text, self.spans[rid], quotes.get((rid, self.data.labels[j]), []))
                found, missed = found + bool(items), missed + (not items)
                if items:
                    self.positive[(rid, int(j))] = items
        self.quote_coverage = {"labels_with_an_item": found, "labels_without": missed}
        self._fitted: dict[tuple, np.ndarray] = {}

    def ids(self, fit_mask: np.ndarray, held: np.ndarray | None) -> tuple[list[str], list[str]]:
        """(train reviews to fit on, reviews to score) for `scoring.cross_fit`'s masks."""
        train_ids = np.asarray(self.train.ids)
        scored = self.validation.ids if held is None else train_ids[held]
        return list(train_ids[fit_mask]), list(scored)

    def fit_predict(
        self, fit_ids: list[str], score_ids: list[str], C: float, emb: dict[str, np.ndarray] | None = None
    ) -> np.ndarray:
        """Per-label logistic regression on the quoted items of `fit_ids` (their item embeddings in `emb`,
        by default the frozen encoder's, whose fits are kept for the combinations to reuse) → each scored
        review's best item probability."""
        if emb is not None:
            return self._fit_predict(fit_ids, score_ids, C, emb)
        key = (tuple(fit_ids), tuple(score_ids), C)
        if key not in self._fitted:
            self._fitted[key] = self._fit_predict(fit_ids, score_ids, C, self.emb)
        return self._fitted[key]

    def frozen_scores(self, C: float) -> tuple[np.ndarray, np.ndarray]:
        """Out-of-fold and validation probabilities of the item model on the frozen encoder."""
        return cross_fit(self.train, lambda fit_mask, held: self.fit_predict(*self.ids(fit_mask, held), C))

    def _fit_predict(self, fit_ids: list[str], score_ids: list[str], C: float, emb: dict[str, np.ndarray]):
        """The shipped head (`heads.logistic_head` on `heads.quoted_examples`), scored as it ships:
        as arrays (`linear.LinearHead`), each review's best item (`linear.pool`)."""
        from pipelines.modeling.heads import logistic_head, quoted_examples
        from pipelines.modeling.linear import LinearHead, pool

        index = {rid: i for i, rid in enumerate(self.train.ids)}
        counts = [len(emb[rid]) for rid in fit_ids]
        examples = []
        for j in range(len(self.data.labels)):
            has_label = [bool(self.train.y[index[rid], j]) for rid in fit_ids]
            positives = {n: self.positive.get((rid, j), set()) for n, rid in enumerate(fit_ids)}
            examples.append(quoted_examples(counts, has_label, positives))
        head = LinearHead.from_torch(logistic_head(np.concatenate([emb[rid] for rid in fit_ids]), examples, C))
        scored = np.concatenate([emb[rid] for rid in score_ids])
        owner = np.repeat(np.arange(len(score_ids)), [len(emb[rid]) for rid in score_ids])
        return pool(head.proba(scored), owner, len(score_ids), "max")


def score(items: ItemData, name: str, lexicon: dict[str, np.ndarray], C: float, how: str) -> dict:
    started = time.perf_counter()
    train, validation = items.train, items.validation
    oof, val = items.frozen_scores(C)

    def combine(learned, lex):
        return {"items": learned, "max": np.maximum(learned, lex), "mean": (learned + lex) / 2}[how]

    oof, val = combine(oof, lexicon["train"]), combine(val, lexicon["validation"])
    return {
        "task": items.data.task,
        "candidate": name,
        "C": C,
        **search_scores(train, validation, oof, val, items.data.labels, items.frequent),
        "seconds": round(time.perf_counter() - started, 1),
        **items.quote_coverage,
    }


def shipped_item_encoder():
    """(the encoder, the settings) of the shipped quoted_items kind, from params.yaml."""
    from pipelines.modeling.encoders import FrozenEncoder
    from pipelines.modeling.registry import kind_config

    config = kind_config("quoted_items")
    return FrozenEncoder(config.base_model or default_base_model(), config), config


def item_embedder(encoder, config) -> ItemEmbedder:
    """Items and their embeddings as the kind computes them in training: one cache for the whole run."""
    from pipelines.modeling.encoders import EmbeddingCache

    cache = EmbeddingCache()
    return lambda texts: encoder.document_items(texts, config.max_items, config.max_item_tokens, cache)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-mlflow", action="store_true", help=f"only write {OUT}")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    embedder = item_embedder(*shipped_item_encoder())
    results = []
    for task in TASKS:
        items = ItemData(task, embedder)
        lexicon_model = LexiconClassifier(task, items.data.labels, {}, load_section("lexicon", LexiconConfig).lexicon)
        lexicon = {
            "train": lexicon_model.predict_proba(items.train.texts),
            "validation": lexicon_model.predict_proba(items.validation.texts),
        }
        for how, C in (("items", 0.1), ("items", 1.0), ("max", 0.1), ("mean", 0.1), ("mean", 1.0)):
            name = {"items": "quoted items, max-pooled", "max": "max(lexicon, quoted items)"}.get(
                how, "mean(lexicon, quoted items)"
            )
            results.append(score(items, name, lexicon, C, how))
            log.info("%s", results[-1])
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_mlflow:
        log_search_runs(
            results, ("task", "candidate", "C"), lambda row: f"{row['task']}: {row['candidate']} C={row['C']}"
        )


if __name__ == "__main__":
    main()
