"""Stage `split`: the temporal split as a Hugging Face DatasetDict (train/validation/test/unlabelled),
reviews.csv and split_report.json (`pipelines.dataset`).

Every contract label stays in the dataset whatever its support: `min_support` only lists which
labels have enough training examples to be learned per label (`active_labels`); evaluation covers
them all.
"""

from __future__ import annotations

import logging

from pipelines.config import LabelConfig, SplitConfig, load_section
from pipelines.dataset import build_dataset, split_rows, write_csv
from pipelines.labels.taxonomy import load_contract
from pipelines.paths import resolve
from pipelines.records import read_jsonl, write_json
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(__doc__, argv, "labelled", "dataset", "csv", "report")
    config = load_section("split", SplitConfig)
    vocab = load_contract(resolve(load_section("label", LabelConfig).contract))
    rows = list(read_jsonl(args.labelled))
    assignment, report = split_rows(rows, vocab, config)
    build_dataset(rows, vocab, assignment).save_to_disk(str(args.dataset))
    write_csv(args.csv, rows, assignment, list(vocab))
    write_json(args.report, report)
    log.info("split: %s; active labels: %s", report["sizes"], {t: len(a) for t, a in report["active_labels"].items()})


if __name__ == "__main__":
    main()
