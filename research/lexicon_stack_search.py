"""Can a learned model beat the hand-written lexicon on reader labels? `python -m
research.lexicon_stack_search` → experiments/lexicon_stack_search.json and one MLflow run per
candidate (experiment `head-search`).

On reader labels the lexicon is the model to beat (CV micro-F1 0.81 harm, 0.76 theme), and with 234
training summaries a learned model mostly relearns it. So the candidates use the lexicon as a feature
or as a member: logistic regression per label on the lexicon's own pattern hits (the lexicon with
learned weights), on TF-IDF words, on both, on TF-IDF plus the lexicon's label scores, and the lexicon
combined with a TF-IDF model by max or mean (the learned model adding recall where the lexicon is
silent). Scored as the champion is chosen, never on test: the train folds out-of-fold with thresholds
tuned on validation (CV), and validation with thresholds tuned on the out-of-fold rows, over all labels.
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
from scipy import sparse

from pipelines.config import LexiconConfig, load_section
from pipelines.dataset import learnable_labels, load_task_data
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.kinds.lexicon import LexiconClassifier
from research.scoring import cross_fit, log_search_runs, search_scores

OUT = Path("experiments/lexicon_stack_search.json")
log = logging.getLogger(__name__)
Fit = Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # (train mask, held-out mask or None=validation)


class Features:
    """Every feature a candidate may use, computed once per task."""

    def __init__(self, task: str):
        self.data = load_task_data(task, labels="all")
        self.frequent = learnable_labels(task)
        self.train, self.validation = self.data.splits["train"], self.data.splits["validation"]
        lexicon = LexiconClassifier(task, self.data.labels, {}, load_section("lexicon", LexiconConfig).lexicon)
        patterns = [pattern for label in lexicon.labels for pattern in lexicon._compiled[label]]
        self.hits = {  # one binary column per lexicon pattern
            name: np.array([[float(bool(p.search(t))) for p in patterns] for t in split.texts])
            for name, split in (("train", self.train), ("validation", self.validation))
        }
        self.lexicon = {"train": lexicon.predict_proba(self.train.texts)}
        self.lexicon["validation"] = lexicon.predict_proba(self.validation.texts)

    def lexicon_only(self, fit_mask: np.ndarray, held: np.ndarray | None) -> np.ndarray:
        return self.lexicon["validation"] if held is None else self.lexicon["train"][held]

    def pick(self, what: str, fit_mask: np.ndarray, held: np.ndarray | None):
        """(train rows, scored rows) of one feature block."""
        if what == "tfidf":
            from sklearn.feature_extraction.text import TfidfVectorizer

            vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2, strip_accents="unicode")
            fitted = vectorizer.fit_transform([t for t, m in zip(self.train.texts, fit_mask, strict=True) if m])
            texts = self.validation.texts
            if held is not None:
                texts = [t for t, m in zip(self.train.texts, held, strict=True) if m]
            return fitted, vectorizer.transform(texts)
        block = {"hits": self.hits, "lexicon": self.lexicon}[what]
        scored = block["validation"] if held is None else block["train"][held]
        return sparse.csr_matrix(block["train"][fit_mask]), sparse.csr_matrix(scored)


def per_label_logistic(x_fit, y_fit: np.ndarray, x_score, C: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    out = np.zeros((x_score.shape[0], y_fit.shape[1]))
    for j in range(y_fit.shape[1]):
        positives = int(y_fit[:, j].sum())
        if positives in (0, len(y_fit)):  # nothing to learn: the base rate
            out[:, j] = positives / len(y_fit)
            continue
        model = LogisticRegression(C=C, class_weight="balanced", max_iter=3000)
        out[:, j] = model.fit(x_fit, y_fit[:, j]).predict_proba(x_score)[:, 1]
    return out


def linear(features: Features, blocks: tuple[str, ...], C: float) -> Fit:
    def fit(fit_mask, held):
        parts = [features.pick(block, fit_mask, held) for block in blocks]
        x_fit = sparse.hstack([p[0] for p in parts]).tocsr()
        x_score = sparse.hstack([p[1] for p in parts]).tocsr()
        return per_label_logistic(x_fit, features.train.y[fit_mask], x_score, C)

    return fit


def combined(features: Features, learned: Fit, how: str) -> Fit:
    def fit(fit_mask, held):
        lexicon = features.lexicon["validation"] if held is None else features.lexicon["train"][held]
        other = learned(fit_mask, held)
        return np.maximum(lexicon, other) if how == "max" else (lexicon + other) / 2

    return fit


def candidates(features: Features) -> dict[str, Fit]:
    tfidf = linear(features, ("tfidf",), 4.0)
    return {
        "lexicon": features.lexicon_only,
        "LR on pattern hits (C=1)": linear(features, ("hits",), 1.0),
        "LR on TF-IDF (C=4)": tfidf,
        "LR on TF-IDF + pattern hits (C=16)": linear(features, ("tfidf", "hits"), 16.0),
        "LR on TF-IDF + lexicon scores (C=16)": linear(features, ("tfidf", "lexicon"), 16.0),
        "max(lexicon, LR on TF-IDF)": combined(features, tfidf, "max"),
        "mean(lexicon, LR on TF-IDF)": combined(features, tfidf, "mean"),
    }


def score(features: Features, name: str, fit: Fit) -> dict:
    started = time.perf_counter()
    train, validation, labels = features.train, features.validation, features.data.labels
    oof, val = cross_fit(train, fit)
    return {
        "task": features.data.task,
        "candidate": name,
        **search_scores(train, validation, oof, val, labels, features.frequent),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-mlflow", action="store_true", help=f"only write {OUT}")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", category=UserWarning)
    results = []
    for task in TASKS:
        features = Features(task)
        for name, fit in candidates(features).items():
            results.append(score(features, name, fit))
            log.info("%s", results[-1])
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if not args.no_mlflow:
        log_search_runs(results, ("task", "candidate"), lambda row: f"{row['task']}: {row['candidate']}")


if __name__ == "__main__":
    main()
