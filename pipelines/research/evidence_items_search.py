"""Item-level supervision from the readers' quotes: `python -m pipelines.research.evidence_items_search` →
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
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from dataclasses import asdict
from pathlib import Path

import numpy as np

from pipelines.classifiers.lexicon import LexiconClassifier
from pipelines.classifiers.quoted import quoted_labels
from pipelines.config import LexiconConfig, kind_config, load_section
from pipelines.data import learnable_labels, load_task_data
from pipelines.items import item_spans
from pipelines.research.scoring import cross_fit, log_search_runs, search_scores
from pipelines.taxonomy import TASKS

OUT = Path("experiments/evidence_items_search.json")
DECISIONS = Path("data/gold/passes/decisions")
log = logging.getLogger(__name__)


def reader_quotes(task: str) -> dict[tuple[str, str], list[str]]:
    """(review id, label) -> the quotes both passes gave for it (blind labels and kept keyword labels)."""
    quotes: dict[tuple[str, str], list[str]] = {}
    for review_id, label, quote in quoted_labels([str(DECISIONS)], task):
        quotes.setdefault((review_id, label), []).append(quote)
    return quotes


def locate(text: str, spans: list[tuple[int, int]], quote: str) -> int | None:
    """The item in which the quote starts (quotes were checked against this text, whitespace aside)."""
    at = text.find(quote)
    if at < 0:
        at = " ".join(text.split()).find(" ".join(quote.split()))  # rare: spacing differs; approximate
        if at < 0:
            return None
    for k, (a, b) in enumerate(spans):
        if a <= at < b:
            return k
    return None


class ItemData:
    def __init__(self, task: str, embedder):
        self.data = load_task_data(task, labels="all")
        self.frequent = learnable_labels(task)
        self.train, self.validation = self.data.splits["train"], self.data.splits["validation"]
        self.spans, self.emb = {}, {}
        for split in (self.train, self.validation):
            for rid, text in zip(split.ids, split.texts, strict=True):
                self.spans[rid] = item_spans(text) or [(0, len(text))]
                self.emb[rid] = embedder([text[a:b] for a, b in self.spans[rid]])
        quotes = reader_quotes(task)
        self.positive: dict[tuple[str, int], set[int]] = {}  # (review, label index) -> item indices
        found = missed = 0
        for rid, text, y in zip(self.train.ids, self.train.texts, self.train.y, strict=True):
            for j in np.flatnonzero(y):
                items = {locate(text, self.spans[rid], q) for q in quotes.get((rid, self.data.labels[j]), [])}
                items.discard(None)
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
        from sklearn.linear_model import LogisticRegression

        index = {rid: i for i, rid in enumerate(self.train.ids)}
        labels = self.data.labels
        out = np.zeros((len(score_ids), len(labels)))
        for j in range(len(labels)):
            xs, ys = [], []
            for rid in fit_ids:
                if self.train.y[index[rid], j]:
                    items = self.positive.get((rid, j), set())
                    xs += [emb[rid][k] for k in items]
                    ys += [1] * len(items)
                else:
                    xs += list(emb[rid])
                    ys += [0] * len(emb[rid])
            if sum(ys) < 2:
                continue  # nothing to learn: never predicted by this model
            model = LogisticRegression(C=C, class_weight="balanced", max_iter=2000).fit(np.stack(xs), ys)
            for i, rid in enumerate(score_ids):
                out[i, j] = model.predict_proba(emb[rid])[:, 1].max()
        return out


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


def main(argv: list[str] | None = None) -> None:
    from pipelines.classifiers.items import ItemsClassifier

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-mlflow", action="store_true", help=f"only write {OUT}")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    embedder = ItemsClassifier("harm_type", ["neglect"], asdict(kind_config("items")))
    embedder.encoder.keep_cache = True
    results = []
    for task in TASKS:
        items = ItemData(task, embedder._embed)
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
