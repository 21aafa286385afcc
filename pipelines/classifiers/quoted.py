"""Item classifier taught by the readers' quotes (kind `quoted_items`).

Every reader label carries a verbatim quote of the passage that states it. The quote falls in one item
of the review (a list item or a sentence, `pipelines/items.py`), and that item is a labelled positive;
every item of a review without the label is a negative; the other items of a review with the label are
left out, since they may or may not say it. A per-label logistic regression on the frozen encoder's
item embeddings learns from those items, and a review's probability for a label is its best item's
(max pooling), so its evidence is that same item. The multiple-instance kind (`items`) has to infer
which item carries a label through the pooling; here the readers said so.

Quotes come from the reader passes' decision files (every label a reader gave, with its quote) and
from `data/corrections/` (every `add` carries one, so analysts' corrections teach it too). A training
review's positives are found by substring: the label's quotes that occur in its text.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from pipelines.classifiers.items import ItemsClassifier
from pipelines.classifiers.transformer_config import QuotedItemsConfig

NEVER = -30.0  # bias of a label with too few quoted items to learn: probability ~0, routed or missed


def quoted_labels(sources: list[str], task: str) -> Iterator[tuple[str, str, str]]:
    """(review id, label, quote) from decision files (`{review_id, <task>: [{label, evidence}],
    keyword_check}`) and correction files (`{task, label, action: add, evidence}`), in folders or files."""
    for source in sources:
        path = Path(source)
        files = sorted(path.rglob("*.jsonl")) if path.is_dir() else [path] if path.is_file() else []
        for file in files:
            for line in file.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the label stage reports malformed correction lines; here they teach nothing
                if not isinstance(row, dict):
                    continue
                given = [(item.get("label"), item.get("evidence")) for item in row.get(task, []) or []]
                given += [
                    (item.get("label"), item.get("evidence"))
                    for item in row.get("keyword_check", []) or []
                    if item.get("task") == task and item.get("decision") == "keep"
                ]
                if row.get("task") == task and row.get("action") == "add":
                    given.append((row.get("label"), row.get("evidence")))
                for label, quote in given:
                    if label and quote and len(str(quote).split()) >= 3:
                        yield str(row.get("review_id", "")), label, str(quote)


def load_quotes(sources: list[str], task: str) -> dict[str, set[str]]:
    """label -> its quotes, whichever review they came from (a training text is matched by substring)."""
    quotes: dict[str, set[str]] = {}
    for _, label, quote in quoted_labels(sources, task):
        quotes.setdefault(label, set()).add(quote)
    return quotes


class QuotedItemsClassifier(ItemsClassifier):
    kind = "quoted_items"
    config_class = QuotedItemsConfig

    def fit(self, texts: list[str], y: np.ndarray, validation=None) -> QuotedItemsClassifier:
        from sklearn.linear_model import LogisticRegression

        quotes = load_quotes(self.config.quotes, self.meta.task)
        self.encoder.keep_cache = True
        spans, emb, owner = self._items(texts)
        first = np.concatenate([[0], np.cumsum([len(s) for s in spans])])  # each text's first item row
        weight = np.zeros((len(self.labels), emb.shape[1]), dtype=np.float32)
        bias = np.full(len(self.labels), NEVER, dtype=np.float32)
        quoted_items = {}
        for j, label in enumerate(self.labels):
            rows, targets = [], []
            for i, text in enumerate(texts):
                items = range(first[i], first[i + 1])
                if y[i, j]:
                    found = {self._item_of(spans[i], text.find(q)) for q in quotes.get(label, ()) if q in text}
                    found.discard(None)
                    rows += [first[i] + k for k in sorted(found)]
                    targets += [1] * len(found)
                else:
                    rows += list(items)
                    targets += [0] * len(items)
            quoted_items[label] = int(sum(targets))
            if sum(targets) < 2 or sum(targets) == len(targets):
                continue
            model = LogisticRegression(C=self.config.C, class_weight="balanced", max_iter=2000)
            model.fit(emb[rows], targets)
            weight[j], bias[j] = model.coef_[0], model.intercept_[0]
        self.head.load_state_dict({"weight": torch.from_numpy(weight), "bias": torch.from_numpy(bias)})
        self.meta.extra["quoted_items"] = quoted_items  # positives per label: what each label learned from
        return self

    @staticmethod
    def _item_of(spans: list[tuple[int, int]], at: int) -> int | None:
        for k, (a, b) in enumerate(spans):
            if a <= at < b:
                return k
        return None
