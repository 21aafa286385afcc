"""The processed dataset as arrays per task: one loader for training, evaluation and comparison."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DATASET_DIR = Path("data/processed/dataset")
SPLIT_REPORT = Path("data/processed/split_report.json")


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


def learnable_labels(task: str, split_report: str | Path = SPLIT_REPORT) -> list[str]:
    """The labels with enough training support to be learned per label (`split.min_support`)."""
    return json.loads(Path(split_report).read_text(encoding="utf-8"))["active_labels"][task]


def load_task_data(
    task: str,
    dataset_dir: str | Path = DATASET_DIR,
    split_report: str | Path = SPLIT_REPORT,
    labels: list[str] | str | None = None,
) -> TaskData:
    """`labels` defaults to the task's active labels (what a model learns per label); pass `"all"` for
    the whole contract vocabulary (what evaluation covers), or a model's own vocabulary."""
    from datasets import load_from_disk

    dataset = load_from_disk(str(dataset_dir))
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
