"""`reviewtag add` and `reviewtag correct`: the analysts' loop from the terminal.

Registered on the one `reviewtag` app by `pipelines.cli`; kept apart so each command module stays small.
Both write only through the library (`pipelines.corpus.added`, `pipelines.labels.recording`,
`pipelines.analyst`), exactly as the page does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import ModelOption, OperatingPointOption, check_operating_point, fail
from pipelines.paths import resolve

AnnotatorOption = Annotated[str, typer.Option(help="your name or id; the line goes to data/corrections/NAME.jsonl")]


def add(
    paths: Annotated[list[Path], typer.Argument(help="newly published reviews (.txt .md .html .pdf) or folders")],
) -> None:
    """Add new reviews to the corpus (data/raw/added/) and print their review ids.

    Corrections and a check (`correct ID --checked`) can be recorded for them at once; the next `dvc repro`
    puts a checked review in the dataset, in the split of its publication year."""
    from pipelines.corpus.added import add_documents
    from pipelines.labels.recording import corpus_texts

    try:
        known = set(corpus_texts())
    except FileNotFoundError:
        known = set()  # a fresh clone before its first `dvc repro`: nothing to compare with yet
    results = add_documents(paths, known_ids=known)
    for result in results:
        typer.echo(result.line(), err=result.status == "error")
    added = sum(r.status == "added" for r in results)
    typer.echo(
        f"{added} added, {sum(r.status == 'already' for r in results)} already there, "
        f"{sum(r.status == 'error' for r in results)} refused",
        err=True,
    )
    if any(r.status == "error" for r in results):
        raise typer.Exit(2)


def correct(
    review_id: Annotated[str, typer.Argument(help="the review's id (data/processed/reviews.csv, `reviewtag add`)")],
    task: Annotated[str | None, typer.Option(help="harm_type | learning_theme (with --add or --remove)")] = None,
    add: Annotated[str | None, typer.Option(help="label id to add (needs --evidence)")] = None,
    remove: Annotated[str | None, typer.Option(help="label id to remove (needs --note)")] = None,
    checked: Annotated[
        bool,
        typer.Option("--checked", help="mark the review read through: its labels are the model's after your decisions"),
    ] = False,
    evidence: Annotated[str, typer.Option(help="verbatim quote of the review's text")] = "",
    note: Annotated[str, typer.Option(help="why (required for --remove)")] = "",
    annotator: AnnotatorOption = "analyst",
    model: ModelOption = "champion",
    operating_point: OperatingPointOption = "default",
) -> None:
    """Record a reader correction (validated, appended atomically), or mark a review checked."""
    from pipelines.config import LabelConfig, load_section
    from pipelines.labels.corrections import CorrectionError
    from pipelines.labels.recording import ANNOTATOR
    from pipelines.labels.taxonomy import load_contract

    if sum(x is not None for x in (add, remove)) + checked != 1:
        fail("give exactly one of --add LABEL, --remove LABEL or --checked")
    if not ANNOTATOR.fullmatch(annotator):
        fail(f"--annotator {annotator!r}: use letters, digits, '.', '_' or '-' (it names a file)")
    config = load_section("label", LabelConfig)
    vocabulary, folder = load_contract(resolve(config.contract)), resolve(config.corrections)
    try:
        if checked:
            _check(review_id, annotator, model, check_operating_point(operating_point), folder, vocabulary, note)
            return
        if task is None:
            fail("--task harm_type | learning_theme is needed with --add or --remove")
        _decide(review_id, task, add, remove, evidence, note, annotator, folder, vocabulary)
    except (CorrectionError, FileNotFoundError, LookupError) as exc:
        fail(str(exc))


def _decide(review_id, task, add, remove, evidence, note, annotator, folder, vocabulary) -> None:
    from datetime import date

    from pipelines.labels.recording import corpus_texts, record

    fields = {
        "review_id": review_id,
        "task": task,
        "label": add or remove or "",
        "action": "add" if add else "remove",
        "evidence": evidence,
        "annotator": annotator,
        "date": date.today().isoformat(),
        "note": note,
    }
    path, _ = record(fields, corpus_texts(), vocabulary, folder)
    typer.echo(f"recorded in {path}: {fields['action']} {task}/{fields['label']} for {review_id}")


def _check(review_id, annotator, model, operating_point, folder, vocabulary, note) -> None:
    from pipelines import analyst
    from pipelines.cli_options import resolve_models

    models = resolve_models(model)
    path, labels = analyst.check(review_id, annotator, models, folder, vocabulary, operating_point, note)
    shown = "; ".join(f"{task}: {', '.join(ids) or '(none)'}" for task, ids in labels.items())
    typer.echo(f"recorded in {path}: {review_id} checked by {annotator} ({shown})")
