"""`reviewtag agreement`: how far annotators agree where two decided on the same review, and which
reviews need adjudicating. A command function only; `pipelines.cli` registers it, so this module
stays importable without the rest of the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import fail
from pipelines.labels.agreement import AgreementReport


def agreement(
    corrections: Annotated[
        Path | None,
        typer.Option("--corrections", help="folder of *.jsonl corrections (default: label.corrections in params)"),
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="write the full report (JSON) here")] = None,
) -> None:
    """Annotator agreement: per-label observed agreement and Cohen's kappa for each pair of annotators
    who decided on a common review, and the disputed reviews to adjudicate."""
    from pipelines.config import LabelConfig, load_section
    from pipelines.labels.agreement import read_agreement
    from pipelines.labels.corrections import CorrectionError
    from pipelines.labels.taxonomy import TaxonomyError, load_contract
    from pipelines.paths import resolve
    from pipelines.records import write_json

    config = load_section("label", LabelConfig)
    folder = corrections if corrections is not None else resolve(config.corrections)
    if not folder.exists():
        fail(f"no corrections at {folder}")
    try:
        report = read_agreement(folder, load_contract(resolve(config.contract)))
    except (CorrectionError, TaxonomyError, FileNotFoundError) as exc:
        fail(str(exc))
    for line in table_lines(report):
        typer.echo(line)
    if json_path is not None:
        write_json(json_path, report.to_dict())
        typer.echo(f"report -> {json_path}")


def _number(value: float | None) -> str:
    return "undef." if value is None else f"{value:.2f}"


def table_lines(report: AgreementReport) -> list[str]:
    """The compact table (pair, task, label, n, agreement, kappa; pooled rows first per task) and
    the disputed review ids. An undefined kappa reads `undef.` and is explained under the table."""
    if not report.pairs:
        return [f"no two annotators decided on a common review ({len(report.annotators)} annotator(s))"]
    lines = [f"{'pair':<28} {'task':<15} {'label':<30} {'n':>5} {'agree':>6} {'kappa':>6}"]
    undefined = 0
    for pair in report.pairs:
        name = f"{pair.first} / {pair.second}"
        for task, pooled in pair.pooled.items():
            rows = [pooled] + [a for a in pair.labels if a.task == task]
            for a in rows:
                undefined += a.kappa is None
                lines.append(
                    f"{name:<28} {task:<15} {a.label:<30} {a.n:>5} {_number(a.agreement):>6} {_number(a.kappa):>6}"
                )
    if undefined:
        lines.append(f"undef.: kappa undefined on {undefined} row(s): no item, or no variance (see kappa_note)")
    reviews = sorted({d.review_id for d in report.disputes})
    lines.append(f"disputed: {len(report.disputes)} label(s) on {len(reviews)} review(s)")
    lines += [f"  {rid}" for rid in reviews]
    return lines
