"""`reviewtag`: tag new reviews, correct their labels, evaluate and compare classifier versions, promote one.

Thin on purpose: every command calls library code, and heavy libraries (torch, mlflow,
transformers) are imported only inside the command that needs them, so `--help` is instant.
Exit codes: 0 all inputs done, 2 some inputs failed, 1 usage or setup error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_options import (
    BackendOption,
    ModelOption,
    OperatingPointOption,
    check_backend,
    check_operating_point,
    fail,
)
from pipelines.paths import resolve
from pipelines.text import DEFAULT_MAX_CHARS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Harm-type and learning-theme tags for child safeguarding case reviews.",
)


def _resolve(spec: str, backend: str | None = None):
    from pipelines.modeling.resolve import ModelNotFoundError, resolve

    try:
        return resolve(spec, backend=check_backend(backend))
    except (ModelNotFoundError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@app.command()
def tag(
    paths: Annotated[list[Path], typer.Argument(help="files (.txt .md .html .pdf) and folders, mixed")],
    model: ModelOption = "champion",
    backend: BackendOption = None,
    operating_point: OperatingPointOption = "balanced",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output file (default: stdout)")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl | csv")] = "jsonl",
    threshold_scale: Annotated[float, typer.Option(help="multiply every tuned threshold (<1 tags more)")] = 1.0,
    top_k: Annotated[int | None, typer.Option(help="at most K labels per task")] = None,
    max_chars: Annotated[
        int, typer.Option(help="text one review may feed the models; longer ones are sampled evenly, with a note")
    ] = DEFAULT_MAX_CHARS,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    emit_text: Annotated[
        Path | None,
        typer.Option(help="write each input's document text (what evidence offsets index) to this folder"),
    ] = None,
) -> None:
    """Tag reviews: one row per review with labels, probabilities and the sentences behind each label."""
    if fmt not in ("jsonl", "csv"):
        fail(f"--format must be jsonl or csv, not {fmt!r}")
    if not 0 < threshold_scale <= 10 or (top_k is not None and top_k < 1) or max_chars < 1000:
        fail("--threshold-scale must be in (0, 10], --top-k >= 1 and --max-chars >= 1000")
    from pipelines.tagging import collect_reviews, emit_documents, error_row, render, tag_reviews, write_atomic

    models = _resolve(model, backend)

    def report(source: str, message: str) -> None:
        typer.echo(f"reviewtag: {source}: {message}", err=True)

    def note(source: str, message: str) -> None:
        typer.echo(f"reviewtag: {source}: note: {message}", err=True)

    collected = collect_reviews([str(p) for p in paths], report, max_chars, on_note=note)
    reviews, errors = collected.reviews, collected.errors
    rows = tag_reviews(
        reviews,
        models,
        threshold_scale,
        top_k,
        progress=_show_progress(quiet),
        notes=collected.notes,
        operating_point=check_operating_point(operating_point),
    )
    rows += [error_row(e["source"], e["error"]) for e in errors]
    if emit_text:
        written = emit_documents(reviews, emit_text)
        if not quiet:
            typer.echo(f"reviewtag: {len(written)} document text(s) -> {emit_text}", err=True)
    content = render(rows, fmt)
    if out:
        write_atomic(out, content)
        if not quiet:
            typer.echo(f"reviewtag: {len(reviews)} review(s) tagged, {len(errors)} input(s) failed -> {out}", err=True)
    else:
        sys.stdout.write(content)
    if errors:
        raise typer.Exit(2)


@app.command()
def evaluate(
    gold: Annotated[Path, typer.Option(help="JSONL: {id, text|path, harm_type: [...], learning_theme: [...]}")],
    model: ModelOption = "champion",
    backend: BackendOption = None,
    operating_point: OperatingPointOption = "balanced",
    report: Annotated[Path | None, typer.Option(help="folder for evaluation.json and evaluation.md")] = None,
) -> None:
    """Score a model set on your own hand-labelled reviews."""
    from pipelines.evaluation.reports import GoldError, evaluation_report, load_gold

    try:
        dataset = load_gold(gold)
    except GoldError as exc:
        fail(str(exc))
    result = evaluation_report(_resolve(model, backend), dataset, report, check_operating_point(operating_point))
    for task, r in result["tasks"].items():
        typer.echo(
            f"{task} [{r['model']} {r['version']}]  micro-F1 {r['micro_f1']:.3f}  macro-F1 {r['macro_f1']:.3f}"
            f"  samples-F1 {r['samples_f1']:.3f}  (n={result['n']})"
        )
        for label, v in r["per_label"].items():
            typer.echo(
                f"    {label:32s} P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  n={v['support']}"
            )
    if report:
        typer.echo(f"report: {report / 'evaluation.md'}", err=True)


@app.command()
def compare(
    a: Annotated[str, typer.Argument(help="model A (same forms as --model, or an MLflow run id)")],
    b: Annotated[str, typer.Argument(help="model B")],
    gold: Annotated[Path | None, typer.Option(help="gold JSONL; default: the 2023 test split")] = None,
    report: Annotated[
        Path | None, typer.Option(help="folder for compare.md, compare.json and PNG plots [experiments/compare]")
    ] = None,
    n_boot: Annotated[int, typer.Option(help="bootstrap resamples")] = 1000,
) -> None:
    """A vs B per label: deltas with bootstrap intervals, a paired test, the reviews that flip, plots."""
    from pipelines.evaluation.reports import GoldError, compare_markdown, compare_task, load_gold, test_split_set
    from pipelines.records import write_json

    models_a, models_b = _resolve(a), _resolve(b)
    try:
        gold_set = load_gold(gold) if gold else None
    except GoldError as exc:
        fail(str(exc))
    report = report or resolve("experiments/compare")
    report.mkdir(parents=True, exist_ok=True)
    result = {"a": a, "b": b, "dataset": gold_set.name if gold_set else "test split (2023)", "tasks": {}}
    for task in models_a:
        dataset = gold_set or test_split_set(task)
        task_result, figures = compare_task(models_a[task], models_b[task], dataset, report, n_boot=n_boot)
        result["tasks"][task] = task_result | {"figures": figures}
        o = task_result["overall"]
        typer.echo(
            f"{task}: A {task_result['a']}  B {task_result['b']}  micro {o['micro_f1']['a']:.3f} -> "
            f"{o['micro_f1']['b']:.3f} ({o['micro_f1']['delta']:+.3f})  macro {o['macro_f1']['a']:.3f} -> "
            f"{o['macro_f1']['b']:.3f} ({o['macro_f1']['delta']:+.3f})  McNemar p={task_result['mcnemar_p']:.4f}"
            f"  flips {len(task_result['flips'])}"
        )
    write_json(report / "compare.json", result)
    (report / "compare.md").write_text(compare_markdown(result), encoding="utf-8")
    typer.echo(f"report: {report / 'compare.md'}", err=True)


@app.command()
def correct(
    review_id: Annotated[str, typer.Argument(help="the review's id (data/processed/reviews.csv)")],
    task: Annotated[str, typer.Option(help="harm_type | learning_theme")],
    add: Annotated[str | None, typer.Option(help="label id to add (needs --evidence)")] = None,
    remove: Annotated[str | None, typer.Option(help="label id to remove (needs --note)")] = None,
    evidence: Annotated[str, typer.Option(help="verbatim quote of the review's text")] = "",
    note: Annotated[str, typer.Option(help="why (required for --remove)")] = "",
    annotator: Annotated[str, typer.Option(help="your name or id; the line goes to data/corrections/NAME.jsonl")] = (
        "analyst"
    ),
) -> None:
    """Record a reader correction over the keyword labels (validated, appended atomically)."""
    from datetime import date

    from pipelines.config import LabelConfig, load_section
    from pipelines.labels.corrections import CorrectionError, corpus_texts, record
    from pipelines.labels.taxonomy import load_contract

    if (add is None) == (remove is None):
        fail("give exactly one of --add LABEL or --remove LABEL")
    config = load_section("label", LabelConfig)
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
    try:
        path, _ = record(fields, corpus_texts(), load_contract(resolve(config.contract)), resolve(config.corrections))
    except (CorrectionError, FileNotFoundError) as exc:
        fail(str(exc))
    typer.echo(f"recorded in {path}: {fields['action']} {task}/{fields['label']} for {review_id}")


@app.command()
def promote(
    model: Annotated[str, typer.Argument(help="a kind (its latest registered version) or models:/NAME/VERSION")],
    alias: Annotated[str, typer.Option(help="registry alias to move")] = "champion",
    task: Annotated[str | None, typer.Option(help="harm_type | learning_theme (default: both, for a kind)")] = None,
) -> None:
    """Move a registry alias (e.g. champion) to a model version."""
    import re

    from mlflow.exceptions import MlflowException

    from pipelines import tracking
    from pipelines.config import TrackingConfig, load_section

    tracking.configure(load_section("tracking", TrackingConfig))
    match = re.match(r"^models:/(harm_type|learning_theme)-([\w.]+)/(\d+)$", model)
    if match:
        targets = [(match.group(1), match.group(2), match.group(3))]
    elif model.startswith("models:/"):
        fail(f"expected models:/<task>-<kind>/<version>, got {model!r}")
    else:
        targets = []
        for t in [task] if task else ["harm_type", "learning_theme"]:
            try:
                version = tracking.latest_version(t, model)
            except MlflowException as exc:
                fail(f"{tracking.registered_name(t, model)}: {str(exc).splitlines()[0]}")
            if not version:
                fail(f"no registered versions of {tracking.registered_name(t, model)}; run `dvc repro` first")
            targets.append((t, model, version))
    for t, kind, version in targets:
        try:
            tracking.set_alias(t, kind, version, alias)
        except MlflowException as exc:
            fail(f"{tracking.registered_name(t, kind)} version {version}: {str(exc).splitlines()[0]}")
        typer.echo(f"{tracking.registered_name(t, kind)} version {version} is now @{alias}")


@app.command()
def refit(
    kind: Annotated[str, typer.Argument(help="a model kind, or champion (each task's champion kind)")] = "champion",
    task: Annotated[str | None, typer.Option(help="harm_type | learning_theme (default: both)")] = None,
    register: Annotated[bool, typer.Option(help="log to MLflow as a new version linked to the recipe's run")] = True,
) -> None:
    """Refit a recipe on every labelled year (train + validation + test) into models/refit/<task>/<kind>."""
    from pipelines.config import SplitConfig, TrackingConfig, load_section
    from pipelines.dataset import load_task_data
    from pipelines.modeling import refit as refitting
    from pipelines.modeling.resolve import CHAMPIONS, champion_kind

    min_support = load_section("split", SplitConfig).min_support
    for t in [task] if task else ["harm_type", "learning_theme"]:
        chosen = champion_kind(t) if kind == "champion" else kind
        if not chosen:
            fail(f"no champion for {t} in {CHAMPIONS}: run `dvc repro` first, or name a kind")
        try:
            directory = refitting.refit(t, chosen, load_task_data(t, labels="all"), min_support)
        except (FileNotFoundError, ValueError) as exc:
            fail(f"{t}/{chosen}: {exc}")
        line = f"{t}: {chosen} refit on every labelled year -> {directory}"
        if register:
            run = refitting.register(t, chosen, directory, load_section("tracking", TrackingConfig))
            recipe = run["recipe_run_id"] or "not found"
            line += f"; registered {t}-{chosen} version {run['version']} (recipe run {recipe})"
        typer.echo(line)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to bind; anything but loopback exposes the page")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    model: ModelOption = "champion",
    backend: BackendOption = None,
    operating_point: OperatingPointOption = "balanced",
    annotator: Annotated[str, typer.Option(help="name for data/corrections/NAME.jsonl")] = "analyst",
) -> None:
    """The analysts' workbench: tag, read the evidence in context, correct labels (a local web page)."""
    import functools

    from pipelines.config import LabelConfig, ServeConfig, load_section
    from pipelines.labels.corrections import ANNOTATOR
    from pipelines.modeling.resolve import resolve as resolve_models

    if not ANNOTATOR.fullmatch(annotator):
        fail(f"--annotator {annotator!r}: use letters, digits, '.', '_' or '-' (it names a file)")
    import uvicorn

    from pipelines.web.app import create_app
    from pipelines.web.security import LOOPBACK_HOSTS, is_loopback
    from pipelines.web.workbench import Workbench

    label, settings = load_section("label", LabelConfig), load_section("serve", ServeConfig)
    resolver = functools.partial(resolve_models, backend=check_backend(backend))
    point = check_operating_point(operating_point)  # usage errors before the try: they exit with their own line
    try:
        workbench = Workbench(
            model,
            annotator,
            resolve(label.corrections),
            resolve(label.contract),
            resolver=resolver,
            operating_point=point,
        )
    except Exception as exc:  # ModelNotFoundError, a bad contract: one line, not a traceback
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    loopback = is_loopback(host)
    if not loopback:
        typer.echo(
            f"reviewtag: warning: serving on {host}: the page has no authentication; anyone who can reach "
            "this address can read the batches and write corrections",
            err=True,
        )
    application = create_app(
        workbench,
        settings.max_upload_mb * 2**20,
        (LOOPBACK_HOSTS | {host}) if loopback else None,
        keep_batches=settings.keep_batches,
    )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"reviewtag: workbench on http://{shown}:{port}/ ({'; '.join(workbench.describe())})", err=True)
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


def main() -> None:
    """Console entry point: usage errors exit 1 (click's default is 2, which we keep for failed inputs)."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("aborted", err=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # usage errors (typer vendors click's exception types)
        show = getattr(exc, "show", None)
        show() if show else typer.echo(f"reviewtag: error: {exc}", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
