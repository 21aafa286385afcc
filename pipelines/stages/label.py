"""Stage `label`: keyword labels and the reader corrections over them (`pipelines.labels.labelling`).
An unmapped keyword stops the stage (or warns: `label.on_unmapped`); an invalid correction always
stops it with `file:line: reason`, and nothing is written."""

from __future__ import annotations

import logging
import sys

from pipelines.config import LabelConfig, load_section
from pipelines.labels.corrections import CorrectionError
from pipelines.labels.labelling import apply_reader_corrections, label_reviews
from pipelines.labels.taxonomy import load_taxonomy
from pipelines.paths import resolve
from pipelines.records import read_reviews, write_json, write_jsonl
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    args = stage_arguments(__doc__, argv, "reviews", "out", "report")
    config = load_section("label", LabelConfig)
    taxonomy = load_taxonomy(resolve(config.taxonomy), resolve(config.contract))
    rows, report = label_reviews(read_reviews(args.reviews), taxonomy)
    try:
        report["corrections"] = apply_reader_corrections(rows, resolve(config.corrections), taxonomy.labels)
    except CorrectionError as exc:
        for problem in exc.problems:
            print(f"label: invalid correction: {problem}", file=sys.stderr)
        log.error("%d invalid correction(s); nothing written", len(exc.problems))
        sys.exit(1)
    write_json(args.report, report)
    if report["unmapped_keywords"]:
        message = (
            f"{len(report['unmapped_keywords'])} keyword(s) neither mapped nor ignored in "
            f"{config.taxonomy}: {', '.join(report['unmapped_keywords'])}"
        )
        if config.on_unmapped == "error":
            log.error("%s (set label.on_unmapped: warn to continue)", message)
            sys.exit(1)
        log.warning(message)
    write_jsonl(args.out, rows)
    log.info(
        "label: %d reviews, %d with keywords, taxonomy %s; corrections applied %s",
        report["reviews"],
        report["with_keywords"],
        taxonomy.version,
        report["corrections"]["applied"],
    )


if __name__ == "__main__":
    main()
