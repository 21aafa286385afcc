"""Hand-written item examples: single sentences written under `data/gold/guidelines.md` for the harms
the corpus holds too few reviews of to learn (criminal exploitation has one training review).

Every line of `data/gold/hand_items/items.jsonl` is one sentence in the register of a review summary,
with the labels it states or clearly implies (`labels`) and the near-miss labels the guidelines say it
does not carry (`not_labels`). They are SYNTHETIC (`synthetic: true` is required): written by a helper
session that read only the guidelines and the label contract, never a test, validation or challenge
text, and kept only where a second reader, labelling blind, gave the same labels
(`data/gold/hand_items/README.md`). The quoted-items kind learns from them as it learns from a
reader's quoted item: positives for their `labels`, negatives for every other label of the task.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from pipelines import paths

REQUIRED = ("id", "task", "text", "labels")


@dataclass(frozen=True)
class HandItem:
    """One hand-written sentence and its labels for one task."""

    id: str
    task: str
    text: str
    labels: frozenset[str]
    not_labels: frozenset[str]


def _parse(line: str, where: str, known: dict[str, set[str]]) -> HandItem:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not JSON ({error.msg})") from None
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise ValueError(f"{where}: missing {missing}")
    if raw.get("synthetic") is not True:
        raise ValueError(f'{where}: a hand-written item must be marked "synthetic": true')
    task = str(raw["task"])
    if task not in known:
        raise ValueError(f"{where}: unknown task {task!r}")
    labels, not_labels = frozenset(raw["labels"]), frozenset(raw.get("not_labels", []))
    unknown = sorted((labels | not_labels) - known[task])
    if unknown:
        raise ValueError(f"{where}: unknown {task} label(s) {unknown}")
    if labels & not_labels:
        raise ValueError(f"{where}: {sorted(labels & not_labels)} both given and refused")
    text = str(raw["text"]).strip()
    if not text:
        raise ValueError(f"{where}: empty text")
    return HandItem(str(raw["id"]), task, text, labels, not_labels)


def load_hand_items(sources: list[str], task: str, known: dict[str, set[str]]) -> list[HandItem]:
    """The hand-written items of `task` in `sources` (JSONL files, or folders read as `*.jsonl`), in
    file order. `known` maps each task to its label ids. A malformed line, an unknown label or a
    repeated id is an error naming the file and line: a training example is never skipped quietly."""
    items: list[HandItem] = []
    seen: set[str] = set()
    for source in sources:
        root = paths.resolve(source)
        files = sorted(root.glob("*.jsonl")) if root.is_dir() else [root]
        for file in files:
            for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                item = _parse(line, f"{file}:{number}", known)
                if item.id in seen:
                    raise ValueError(f"{file}:{number}: repeated id {item.id!r}")
                seen.add(item.id)
                if item.task == task:
                    items.append(item)
    return items


def positives_per_label(items: list[HandItem]) -> Counter[str]:
    """How many hand-written items state each label."""
    return Counter(label for item in items for label in item.labels)


def known_labels() -> dict[str, set[str]]:
    """Each task's label ids from the taxonomy named in params.yaml."""
    from pipelines.config import LabelConfig, load_section
    from pipelines.labels.taxonomy import load_taxonomy

    config = load_section("label", LabelConfig)
    return {task: set(ids) for task, ids in load_taxonomy(config.taxonomy, config.contract).labels.items()}
