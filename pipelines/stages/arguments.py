"""What every stage's entry point does first: log to stderr and read its paths from its command line
(the paths dvc.yaml names in the stage's `cmd`, `deps` and `outs`, so each is written once there)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path


def stage_arguments(description: str, argv: list[str] | None, *paths: str, **options: dict) -> argparse.Namespace:
    """`paths` are required path options (`"reviews"` → `--reviews PATH`); `options` maps other option
    names to their `add_argument` keywords."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=description)
    for name in paths:
        parser.add_argument(f"--{name.replace('_', '-')}", required=True, type=Path)
    for name, keywords in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", **keywords)
    return parser.parse_args(argv)
