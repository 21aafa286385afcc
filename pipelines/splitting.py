"""Temporal split with a multi-label-stratified validation set and cross-validation folds.

Test is the latest year(s), as in deployment: models are trained on the past and judged on
reviews published after it. Validation is carved from the training years by iterative
stratification, so rare labels still appear in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


def multi_hot(label_lists: list[list[str]], vocabulary: list[str]) -> np.ndarray:
    index = {label: k for k, label in enumerate(vocabulary)}
    matrix = np.zeros((len(label_lists), len(vocabulary)), dtype=np.int8)
    for row, labels in enumerate(label_lists):
        for label in labels:
            if label in index:
                matrix[row, index[label]] = 1
    return matrix


@dataclass
class SplitAssignment:
    split: dict[str, str] = field(default_factory=dict)  # review_id -> train|validation|test|unlabelled
    fold: dict[str, int] = field(default_factory=dict)  # review_id -> fold id (train only, else -1)
    skipped: list[dict] = field(default_factory=list)


def assign_splits(
    rows: list[dict],
    tasks: dict[str, list[str]],
    train_max_year: int,
    test_years: list[int],
    validation_fraction: float,
    n_folds: int,
    seed: int,
) -> SplitAssignment:
    """rows: dicts with review_id, year, keywords and one label list per task."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedKFold, MultilabelStratifiedShuffleSplit

    out = SplitAssignment()
    pool: list[dict] = []
    for row in rows:
        rid, year = row["review_id"], row.get("year")
        if not row.get("keywords"):
            out.split[rid] = "unlabelled"
        elif year is not None and year in test_years:
            out.split[rid] = "test"
        elif year is not None and year <= train_max_year:
            pool.append(row)
        else:
            out.split[rid] = "unlabelled"
            out.skipped.append(
                {
                    "review_id": rid,
                    "year": year,
                    "reason": "has keywords but its year is in neither the train nor the test range",
                }
            )
    y = np.hstack([multi_hot([r[t] for r in pool], labels) for t, labels in tasks.items()]) if pool else None
    ids = np.array([r["review_id"] for r in pool])
    if len(pool) >= 2:
        splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=validation_fraction, random_state=seed)
        train_idx, val_idx = next(splitter.split(np.zeros((len(pool), 1)), y))
    else:
        train_idx, val_idx = np.arange(len(pool)), np.array([], dtype=int)
    for k in val_idx:
        out.split[ids[k]] = "validation"
        out.fold[ids[k]] = -1
    for k in train_idx:
        out.split[ids[k]] = "train"
        out.fold[ids[k]] = -1
    if len(train_idx) >= n_folds:
        folds = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        for fold_id, (_, held) in enumerate(folds.split(np.zeros((len(train_idx), 1)), y[train_idx])):
            for k in held:
                out.fold[ids[train_idx[k]]] = fold_id
    return out


def label_support(label_lists: list[list[str]], vocabulary: list[str]) -> dict[str, int]:
    counts = multi_hot(label_lists, vocabulary).sum(axis=0) if label_lists else np.zeros(len(vocabulary))
    return {label: int(c) for label, c in zip(vocabulary, counts, strict=True)}
