"""Stage `audit`: keyword labels against reader labels, what the readers changed, and the agreement of
the two reader passes (`pipelines.labels.audit`), written to experiments/label_audit.json."""

from __future__ import annotations

import json
import logging
import sys

from pipelines.labels.audit import label_audit
from pipelines.labels.corrections import CorrectionError
from pipelines.records import write_json
from pipelines.stages.arguments import stage_arguments

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> None:
    from datasets import load_from_disk

    args = stage_arguments(__doc__, argv, "dataset", "label_report", "passes", "out")
    label_report = json.loads(args.label_report.read_text(encoding="utf-8"))
    try:
        audit = label_audit(load_from_disk(str(args.dataset)), label_report, args.passes)
    except CorrectionError as exc:
        sys.exit("\n".join(exc.problems))
    write_json(args.out, audit)
    for task, by_split in audit["keyword_vs_reader"].items():
        test = by_split["test"]
        log.info(
            "audit %s test: keyword P %.3f R %.3f F1 %.3f", task, test["precision"], test["recall"], test["micro_f1"]
        )


if __name__ == "__main__":
    main()
