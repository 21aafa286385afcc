"""Stage `split`: the Hugging Face DatasetDict (train/validation/test/unlabelled) and reviews.csv.

Every contract label stays in the dataset whatever its support: `min_support` only lists which
labels have enough training examples to be learned per label (`active_labels`); evaluation covers
them all. The split is stratified on the keyword labels, not the corrected ones, so a new reader
correction changes a review's labels but never moves a review between train and validation.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from pipelines.config import LabelConfig, SplitConfig, load_section
from pipelines.records import atomic_open, read_jsonl, write_json
from pipelines.splitting import assign_splits, label_support, multi_hot
from pipelines.taxonomy import load_contract

log = logging.getLogger(__name__)
IN_ROWS = Path("data/interim/labelled.jsonl")
OUT_DATASET = Path("data/processed/dataset")
OUT_CSV = Path("data/processed/reviews.csv")
OUT_REPORT = Path("data/processed/split_report.json")
SPLITS = ("train", "validation", "test", "unlabelled")
PROVENANCE = ("added", "removed")  # reader-added labels; keyword labels a reader removed
TEXT_COLUMNS = ("review_id", "source", "title", "area", "summary", "learning", "recommendations", "text", "kind")


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


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    config = load_section("split", SplitConfig)
    vocab = load_contract(load_section("label", LabelConfig).contract)
    rows = list(read_jsonl(IN_ROWS))
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
    active = {task: [label for label, n in s.items() if n >= config.min_support] for task, s in support.items()}
    build_dataset(rows, vocab, assignment).save_to_disk(str(OUT_DATASET))
    write_csv(OUT_CSV, rows, assignment, list(vocab))
    sizes = {split: sum(1 for s in assignment.split.values() if s == split) for split in SPLITS}
    write_json(
        OUT_REPORT,
        {
            "sizes": sizes,
            "min_support": config.min_support,
            "active_labels": active,
            "few_shot_labels": {  # fewer than min_support train examples: still in the dataset and evaluated
                task: {label: n for label, n in s.items() if n < config.min_support} for task, s in support.items()
            },
            "train_support": support,
            "skipped": assignment.skipped,
        },
    )
    log.info("split: %s; active labels: %s", sizes, {t: len(a) for t, a in active.items()})


if __name__ == "__main__":
    main()
