"""The options several `reviewtag` commands share, and the one way a usage error is reported."""

from __future__ import annotations

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
        help="balanced (F1-tuned thresholds) | recall (F2: miss fewer labels) | precision (F0.5); each tuned "
        "on validation and saved with the model",
    ),
]


def check_backend(value: str | None) -> str | None:
    if value not in (None, "onnx", "torch"):
        fail(f"--backend must be onnx or torch, not {value!r}")
    return value


def check_operating_point(value: str) -> str:
    from pipelines.modeling.base import OPERATING_POINTS

    if value not in OPERATING_POINTS:
        fail(f"--operating-point must be one of {', '.join(OPERATING_POINTS)}, not {value!r}")
    return value


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"reviewtag: error: {message}", err=True)
    raise typer.Exit(code)
