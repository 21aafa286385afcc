"""The registry of model kinds (spaCy's factories are the model): each kind declares its name, its
class, its `params.yaml` config dataclass and its scorer beside the class, with `@register`, so no
list of kinds is kept by hand. The CLI help, `--model` validation, the train stage's `build`, local
model resolution and `load_classifier` all read this one table.

Kinds live in `pipelines/modeling/kinds/`, kind `X` in `kinds/X.py`: asking for one kind imports
its module alone (so a stage that trains one kind runs only that kind's code), and listing the kinds
imports every module there. Both by name, not by a static import, so the kinds may import the
registry without a cycle.
A wrapper (the routed model: learned labels plus lexicon rules) registers the same way with
`role="wrapper"`; a saved wrapper says so in its `meta.json` (`wrapper`), never by its folder layout.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.modeling.base import META_FILE

KINDS_PACKAGE = "pipelines.modeling.kinds"


@dataclass(frozen=True)
class KindSpec:
    name: str
    cls: type
    config: type | None  # the params.yaml section named after the kind, as its dataclass
    role: str = "kind"  # kind | wrapper
    scorer: Callable[..., dict] | None = None  # how this kind's predictions are scored (the one scorer)
    rank: int = 100  # simplicity: ties between kinds go to the lower rank (the simpler model)
    description: str = ""


_REGISTRY: dict[str, KindSpec] = {}
_discovered = False


def register(
    name: str,
    config: type | None = None,
    role: str = "kind",
    scorer: Callable[..., dict] | None = None,
    rank: int = 100,
):
    """Class decorator: declare a kind (or wrapper) under `name`. `scorer` defaults to the one
    scorer (`pipelines.evaluation.scoring.scores`); `rank` orders kinds from simplest to richest."""

    def decorate(cls: type) -> type:
        existing = _REGISTRY.get(name)
        if existing is not None and existing.cls.__qualname__ != cls.__qualname__:
            raise ValueError(f"model kind {name!r} registered twice ({existing.cls} and {cls})")
        doc = (cls.__doc__ or "").strip().splitlines()
        scorer_fn = scorer
        if scorer_fn is None:
            from pipelines.evaluation.scoring import scores as scorer_fn
        _REGISTRY[name] = KindSpec(name, cls, config, role, scorer_fn, rank, doc[0] if doc else "")
        cls.kind = name
        return cls

    return decorate


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    package = importlib.import_module(KINDS_PACKAGE)
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        importlib.import_module(f"{KINDS_PACKAGE}.{module.name}")
    _discovered = True


def specs(role: str = "kind") -> list[KindSpec]:
    """Registered kinds in a stable order: simplest first (the order ties are broken in)."""
    _discover()
    return sorted((s for s in _REGISTRY.values() if s.role == role), key=lambda s: (s.rank, s.name))


def kinds() -> list[str]:
    return [spec.name for spec in specs()]


def _import_kind(name: str) -> None:
    if name in _REGISTRY or not name.isidentifier():
        return
    try:
        importlib.import_module(f"{KINDS_PACKAGE}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{KINDS_PACKAGE}.{name}":
            raise


def spec(name: str, role: str = "kind") -> KindSpec:
    _import_kind(name)
    found = _REGISTRY.get(name)
    if found is None or found.role != role:
        raise ValueError(f"unknown model kind {name!r}; expected one of {', '.join(kinds())}")
    return found


def classifier_class(name: str) -> type:
    return spec(name).cls


def kind_config(name: str, params: dict[str, Any] | None = None):
    """The kind's config dataclass from its params.yaml section (or from `params`, e.g. a saved model's)."""
    from pipelines.config import from_dict, load_params

    config_class = spec(name).config
    if config_class is None:
        raise ValueError(f"model kind {name!r} has no configuration section")
    data = load_params().get(name) if params is None else params
    return from_dict(config_class, data, name)


def load_classifier(directory: str | Path, backend: str | None = None):
    """Load any saved model: its `meta.json` names its kind (and a wrapper, where it has one).
    `backend` (onnx | torch) is passed to the kinds that run an encoder."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{directory}: not a reviewtag model directory (no {META_FILE})")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    wrapper = meta.get("wrapper") or ""
    try:
        found = spec(wrapper, role="wrapper") if wrapper else spec(str(meta.get("kind")))
    except ValueError as exc:
        raise ValueError(f"{meta_path}: {exc}") from exc
    return found.cls.load(directory, backend)
