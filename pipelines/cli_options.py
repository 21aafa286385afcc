"""The options several `reviewtag` commands share, and the one way a usage error is reported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.modeling import registry

ModelOption = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help=f"champion | a kind ({', '.join(registry.kinds())}) | models:/NAME@ALIAS | models:/NAME/N "
        "| a run id | a model directory",
    ),
]


BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="onnx | torch: what runs the encoder kinds' encoder (default: the model's setting, onnx; "
        "a missing ONNX export falls back to torch)",
    ),
]


OperatingPointOption = Annotated[
    str,
    typer.Option(
        "--operating-point",
        help="default (each model's own: recall for harms, balanced for themes; params.yaml "
        "train.default_operating_points) | balanced (F1-tuned thresholds) | recall (F2: miss fewer labels) | "
        "precision (F0.5); each tuned on validation and saved with the model",
    ),
]


def check_backend(value: str | None) -> str | None:
    if value not in (None, "onnx", "torch"):
        fail(f"--backend must be onnx or torch, not {value!r}")
    return value


def check_operating_point(value: str) -> str:
    from pipelines.modeling.base import DEFAULT_POINT, OPERATING_POINTS

    if value != DEFAULT_POINT and value not in OPERATING_POINTS:
        fail(f"--operating-point must be one of {', '.join([DEFAULT_POINT, *OPERATING_POINTS])}, not {value!r}")
    return value


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"reviewtag: error: {message}", err=True)
    raise typer.Exit(code)


def resolve_models(spec: str, backend: str | None = None) -> dict:
    """The models a command runs with, or one line saying why there are none."""
    from pipelines.modeling.resolve import ModelNotFoundError, resolve

    try:
        return resolve(spec, backend=check_backend(backend))
    except (ModelNotFoundError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))


CsvLayoutOption = Annotated[
    str,
    typer.Option(
        "--csv-layout",
        help="full (every field; scores, thresholds, evidence and sections as JSON cells) | sheet (one column "
        "per label score and threshold, lists joined, no JSON: for a spreadsheet)",
    ),
]


ExcelOption = Annotated[
    bool,
    typer.Option(
        "--excel",
        help="CSV for Excel: a UTF-8 byte-order mark, and cells starting with = + - @ prefixed with ' (so a "
        "review's text is never run as a formula)",
    ),
]


def export_format(fmt: str | None, out: Path | None, layout: str, excel: bool) -> str:
    """The `pipelines.exports` format of `tag`'s options: --format, else the --out suffix (.csv), else
    jsonl; a CSV layout or --excel asks for CSV, so it is refused with JSON Lines rather than ignored."""
    fmt = fmt or ("csv" if out is not None and out.suffix.lower() == ".csv" else "jsonl")
    if fmt not in ("jsonl", "csv"):
        fail(f"--format must be jsonl or csv, not {fmt!r}")
    if layout not in ("full", "sheet"):
        fail(f"--csv-layout must be full or sheet, not {layout!r}")
    if fmt == "jsonl" and (layout != "full" or excel):
        fail("--csv-layout and --excel are for CSV output: add --format csv or write to a .csv file")
    return "sheet" if fmt == "csv" and layout == "sheet" else fmt
