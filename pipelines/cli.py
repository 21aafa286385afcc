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

from pipelines import cli_agreement, cli_loop, cli_retrain
from pipelines.cli_options import (
    BackendOption,
    CsvLayoutOption,
    ExcelOption,
    ModelOption,
    OperatingPointOption,
    check_backend,
    check_operating_point,
    export_format,
    fail,
    resolve_models,
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


def _show_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@app.command()
def tag(
    paths: Annotated[list[Path], typer.Argument(help="files (.txt .md .html .pdf) and folders, mixed")],
    model: ModelOption = "champion",
    backend: BackendOption = None,
    operating_point: OperatingPointOption = "default",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="output file (default: stdout)")] = None,
    fmt: Annotated[str | None, typer.Option("--format", "-f", help="jsonl | csv [from --out's suffix]")] = None,
    csv_layout: CsvLayoutOption = "full",
    excel: ExcelOption = False,
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
    export = export_format(fmt, out, csv_layout, excel)
    if not 0 < threshold_scale <= 10 or (top_k is not None and top_k < 1) or max_chars < 1000:
        fail("--threshold-scale must be in (0, 10], --top-k >= 1 and --max-chars >= 1000")
    from pipelines.exports import export_rows
    from pipelines.tagging import collect_reviews, emit_documents, error_row, tag_reviews, write_atomic

    models = resolve_models(model, backend)

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
    content = export_rows(rows, export, excel=excel)[0].decode("utf-8")
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
    operating_point: OperatingPointOption = "default",
    report: Annotated[Path | None, typer.Option(help="folder for evaluation.json and evaluation.md")] = None,
) -> None:
    """Score a model set on your own hand-labelled reviews."""
    from pipelines.evaluation.reports import GoldError, evaluation_report, load_gold

    try:
        dataset = load_gold(gold)
    except GoldError as exc:
        fail(str(exc))
    result = evaluation_report(resolve_models(model, backend), dataset, report, check_operating_point(operating_point))
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

    models_a, models_b = resolve_models(a), resolve_models(b)
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
def promote(
    model: Annotated[str, typer.Argument(help="a kind (its latest registered version) or models:/NAME/VERSION")],
    alias: Annotated[str, typer.Option(help="registry alias to move")] = "champion",
    task: Annotated[str | None, typer.Option(help="harm_type | learning_theme (default: both, for a kind)")] = None,
    by: Annotated[str, typer.Option("--by", help="who promotes (a registry tag on the version)")] = ...,
    reason: Annotated[str, typer.Option("--reason", help="why this version (a registry tag on the version)")] = ...,
    job: Annotated[str | None, typer.Option("--job", help="the retrain job whose report you read")] = None,
) -> None:
    """Move a registry alias (e.g. champion) to a model version, recording who, why and when on it."""
    import re

    from mlflow.exceptions import MlflowException

    from pipelines import retraining, tracking
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
            retraining.promote(t, kind, version, by, reason, job_id=job, alias=alias)
        except (ValueError, retraining.RetrainBusy) as exc:
            fail(str(exc))
        except MlflowException as exc:
            fail(f"{tracking.registered_name(t, kind)} version {version}: {str(exc).splitlines()[0]}")
        typer.echo(f"{tracking.registered_name(t, kind)} version {version} is now @{alias} (by {by.strip()})")


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
    host: Annotated[str, typer.Option(help="address to bind; off loopback a token is required")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    model: ModelOption = "champion",
    backend: BackendOption = None,
    operating_point: OperatingPointOption = "default",
    annotator: Annotated[str, typer.Option(help="name for data/corrections/NAME.jsonl")] = "analyst",
    token_file: Annotated[Path | None, typer.Option(help="file with the access token (or env REVIEWTAG_TOKEN)")] = None,
    users: Annotated[Path | None, typer.Option(help="file of name:sha256-hex-of-token lines, one per analyst")] = None,
) -> None:
    """The analysts' workbench: tag, read the evidence in context, correct labels (a local web page).

    Off loopback it needs a token of 16+ characters: --token-file, REVIEWTAG_TOKEN or --users (no secret in it).

    Make a token and its --users line (NAME:sha256-of-token) with:

    python -c "import hashlib as h,secrets as s;t=s.token_hex(16);print(t,'NAME:'+h.sha256(t.encode()).hexdigest())"
    """
    import functools

    from pipelines.config import LabelConfig, ServeConfig, load_section
    from pipelines.labels.recording import ANNOTATOR
    from pipelines.modeling.resolve import resolve as resolve_spec

    if not ANNOTATOR.fullmatch(annotator):
        fail(f"--annotator {annotator!r}: use letters, digits, '.', '_' or '-' (it names a file)")
    import uvicorn

    from pipelines.web.access import TOKEN_ENV, AccessError, load_access, require_access
    from pipelines.web.app import create_app
    from pipelines.web.security import LOOPBACK_HOSTS, is_loopback
    from pipelines.web.workbench import Workbench

    try:  # before the models load: a server nobody may reach should fail at once
        access = load_access(token_file, users, os.environ.get(TOKEN_ENV))
        require_access(host, access)
    except AccessError as exc:
        fail(str(exc))

    label, settings = load_section("label", LabelConfig), load_section("serve", ServeConfig)
    resolver = functools.partial(resolve_spec, backend=check_backend(backend))
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
    application = create_app(
        workbench,
        settings.max_upload_mb * 2**20,
        (LOOPBACK_HOSTS | {host}) if loopback else None,
        keep_batches=settings.keep_batches,
        access=access,
    )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"reviewtag: workbench on http://{shown}:{port}/ ({'; '.join(workbench.describe())})", err=True)
    uvicorn.run(application, host=host, port=port, log_level="warning", access_log=False)


app.command()(cli_loop.add)
app.command()(cli_loop.correct)
app.command()(cli_agreement.agreement)
app.command()(cli_retrain.retrain)
app.command()(cli_retrain.jobs)


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
