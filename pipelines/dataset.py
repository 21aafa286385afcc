"""The labelled dataset: the temporal split (train ≤ 2022, test 2023, validation carved from train by
iterative multi-label stratification, K-fold ids), the Hugging Face DatasetDict built from it, and
that dataset read back as arrays per task (one loader for training, evaluation and comparison).

Test is the latest year(s), as in deployment: models are trained on the past and judged on reviews
published after it. Validation is carved from the training years by iterative stratification, so
rare labels still appear in it; it is stratified on the keyword labels, not the corrected ones, so a
new reader correction changes a review's labels but never moves a review between splits.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipelines import paths
from pipelines.records import atomic_open


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
    split: dict[str, str] = field(default_factory=dict)  # review_id -> train|validation|test|later|unlabelled
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
            _assign_checked(row, out, train_max_year, test_years, n_folds)
        elif year is not None and year in test_years:
            out.split[rid] = "test"
        elif year is not None and year <= train_max_year:
            pool.append(row)
        elif year is not None and year > max(test_years):
            out.split[rid] = "later"
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


def _assign_checked(row: dict, out: SplitAssignment, train_max_year: int, test_years: list[int], n_folds: int) -> None:
    """A review without a keyword list is labelled only once an annotator has checked it (`checked_by`).
    Its split is its publication year's and nothing else: train years go to train (never validation, which
    stays the stratified carve of the keyword-labelled reviews), test years to test, later years to
    `later`; its fold is a hash of its id. So adding a review never moves another one, and it never moves."""
    rid, year = row["review_id"], row.get("year")
    out.split[rid], out.fold[rid] = "unlabelled", -1
    if not row.get("checked_by"):
        return
    if year is None:
        out.skipped.append({"review_id": rid, "year": None, "reason": "checked, but its publication year is unknown"})
    elif year in test_years:
        out.split[rid] = "test"
    elif year <= train_max_year:
        out.split[rid] = "train"
        out.fold[rid] = int(hashlib.sha1(rid.encode("utf-8")).hexdigest(), 16) % n_folds
    elif year > max(test_years):
        out.split[rid] = "later"
    else:
        out.skipped.append({"review_id": rid, "year": year, "reason": "checked, but its year is in no split's range"})


def label_support(label_lists: list[list[str]], vocabulary: list[str]) -> dict[str, int]:
    counts = multi_hot(label_lists, vocabulary).sum(axis=0) if label_lists else np.zeros(len(vocabulary))
    return {label: int(c) for label, c in zip(vocabulary, counts, strict=True)}


SPLITS = ("train", "validation", "test", "later", "unlabelled")
PROVENANCE = ("added", "removed")  # reader-added labels; keyword labels a reader removed
TEXT_COLUMNS = ("review_id", "source", "title", "area", "summary", "learning", "recommendations", "text", "form")


def split_rows(rows: list[dict], vocab: dict[str, list[str]], config) -> tuple[SplitAssignment, dict]:
    """The split of the labelled rows (stratified on their keyword labels) and its report: sizes,
    the labels with enough training support to be learned per label (`active_labels`), the few-shot
    rest, and every review skipped with its reason. `config` is the params `split` section."""
    by_keywords = [r | {task: r[f"keyword_{task}"] for task in vocab} for r in rows]
    assignment = assign_splits(
        by_keywords,
        vocab,
        config.train_max_year,
        config.test_years,
        config.validation_fraction,
        config.n_folds,
        config.seed,
    )
    train = [r for r in rows if assignment.split[r["review_id"]] == "train"]
    support = {task: label_support([r[task] for r in train], ids) for task, ids in vocab.items()}
    report = {
        "sizes": {split: sum(1 for s in assignment.split.values() if s == split) for split in SPLITS},
        "min_support": config.min_support,
        "active_labels": {
            task: [label for label, n in s.items() if n >= config.min_support] for task, s in support.items()
        },
        "few_shot_labels": {  # fewer than min_support train examples: still in the dataset and evaluated
            task: {label: n for label, n in s.items() if n < config.min_support} for task, s in support.items()
        },
        "train_support": support,
        "skipped": assignment.skipped,
    }
    return assignment, report


def build_dataset(rows: list[dict], vocab: dict[str, list[str]], assignment):
    from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value

    features = Features(
        {name: Value("string") for name in TEXT_COLUMNS}
        | {"year": Value("int32"), "keywords": Sequence(Value("string")), "fold": Value("int32")}
        | {task: Sequence(Value("int8"), length=len(ids)) for task, ids in vocab.items()}
        | {f"{task}_labels": Sequence(ClassLabel(names=ids)) for task, ids in vocab.items()}
        | {f"keyword_{task}": Sequence(Value("int8"), length=len(ids)) for task, ids in vocab.items()}
        | {f"{task}_{source}": Sequence(Value("string")) for task in vocab for source in PROVENANCE}
    )
    parts = {}
    for split in SPLITS:
        chosen = [r for r in rows if assignment.split[r["review_id"]] == split]
        if split == "later" and not chosen:
            continue  # no review after the test years yet (an empty split would not load back)
        columns = {name: [r[name] or "" for r in chosen] for name in TEXT_COLUMNS}
        columns["year"] = [r["year"] for r in chosen]
        columns["keywords"] = [r["keywords"] for r in chosen]
        columns["fold"] = [assignment.fold.get(r["review_id"], -1) for r in chosen]
        for task, ids in vocab.items():
            columns[task] = multi_hot([r[task] for r in chosen], ids).tolist()
            columns[f"{task}_labels"] = [sorted(r[task]) for r in chosen]
            columns[f"keyword_{task}"] = multi_hot([r[f"keyword_{task}"] for r in chosen], ids).tolist()
            for source in PROVENANCE:
                columns[f"{task}_{source}"] = [r[f"{task}_{source}"] for r in chosen]
        parts[split] = Dataset.from_dict(columns, features=features)
    return DatasetDict(parts)


def write_csv(path: Path, rows: list[dict], assignment, tasks) -> None:
    provenance = [f"{t}_{source}" for t in tasks for source in PROVENANCE]
    names = ["review_id", "split", "fold", "year", "area", "title", *tasks, *provenance, "keywords", "source", "text"]
    with atomic_open(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        for r in rows:
            writer.writerow(
                {
                    "review_id": r["review_id"],
                    "split": assignment.split[r["review_id"]],
                    "fold": assignment.fold.get(r["review_id"], -1),
                    "year": r["year"],
                    "area": r["area"],
                    "title": r["title"],
                    "keywords": "; ".join(r["keywords"]),
                    "source": r["source"],
                    "text": r["text"],
                }
                | {t: "; ".join(r[t]) for t in tasks}
                | {name: "; ".join(r[name]) for name in provenance}
            )


@dataclass
class SplitData:
    ids: list[str]
    texts: list[str]
    y: np.ndarray  # multi-hot over TaskData.labels: the final (reader-corrected) labels
    folds: np.ndarray
    y_keyword: np.ndarray | None = None  # the same, from the NSPCC keyword lists alone


@dataclass
class TaskData:
    task: str
    labels: list[str]  # labels with enough training support (split_report.active_labels), or as asked
    splits: dict[str, SplitData]


def learnable_labels(task: str, split_report: str | Path | None = None) -> list[str]:
    """The labels with enough training support to be learned per label (`split.min_support`)."""
    report = paths.resolve(split_report or paths.SPLIT_REPORT)
    return json.loads(report.read_text(encoding="utf-8"))["active_labels"][task]


def load_task_data(
    task: str,
    dataset_dir: str | Path | None = None,
    split_report: str | Path | None = None,
    labels: list[str] | str | None = None,
) -> TaskData:
    """`labels` defaults to the task's active labels (what a model learns per label); pass `"all"` for
    the whole contract vocabulary (what evaluation covers), or a model's own vocabulary."""
    from datasets import load_from_disk

    dataset = load_from_disk(str(paths.resolve(dataset_dir or paths.DATASET)))
    vocabulary = dataset["train"].features[f"{task}_labels"].feature.names
    if labels is None:
        labels = learnable_labels(task, split_report)
    elif labels == "all":
        labels = list(vocabulary)
    unknown = [label for label in labels if label not in vocabulary]
    if unknown:
        raise ValueError(f"labels {unknown} are not in the dataset's {task} vocabulary")
    columns = [vocabulary.index(label) for label in labels]
    splits = {}
    for name, part in dataset.items():
        y, y_keyword = (
            np.asarray(part[column], dtype=np.int8).reshape(len(part), len(vocabulary))[:, columns]
            for column in (task, f"keyword_{task}")
        )
        splits[name] = SplitData(list(part["review_id"]), list(part["text"]), y, np.asarray(part["fold"]), y_keyword)
    return TaskData(task, list(labels), splits)
