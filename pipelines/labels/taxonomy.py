"""The label contract and the NSPCC keyword → label mapping.

The contract (data/taxonomy_contract.md) is the public interface: its label ids key analysts'
spreadsheets and saved models, so it is parsed, not retyped, and the mapping file may only point
at ids it defines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipelines import paths

TASKS = ("harm_type", "learning_theme")


class TaxonomyError(ValueError):
    pass


def load_contract(path: str | Path | None = None) -> dict[str, list[str]]:
    """Label ids per task, sorted (the order of every multi-hot vector and `label2id`)."""
    labels: dict[str, list[str]] = {}
    task: str | None = None
    path = paths.resolve(path or paths.CONTRACT)
    for line in path.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^##\s+(\w+)", line)
        if heading:
            task = heading.group(1) if heading.group(1) in TASKS else None
            continue
        row = re.match(r"^\|\s*([a-z][a-z0-9_]*)\s*\|", line)
        if task and row and row.group(1) != "id":
            labels.setdefault(task, []).append(row.group(1))
    missing = [t for t in TASKS if not labels.get(t)]
    if missing:
        raise TaxonomyError(f"{path}: no label table found for {', '.join(missing)}")
    return {task: sorted(ids) for task, ids in labels.items()}


def normalise_keyword(keyword: str) -> str:
    """Case, apostrophes, spacing and stray punctuation: the variants the NSPCC pages show."""
    keyword = keyword.replace("\u2019", "'").replace("\u2018", "'").replace("\u00a0", " ")
    keyword = keyword.replace("\u2013", "-").replace("\u2014", "-")
    keyword = re.sub(r"\s+", " ", keyword.strip().lower())
    return keyword.strip(' .,;:<>"')


def split_keywords(raw: str) -> list[str]:
    """`a, b; c. d` → [a, b, c, d]; a full stop inside the list glues two keywords together."""
    parts = re.split(r"[;,]|\.\s+(?=[a-z])", raw)
    seen: dict[str, None] = {}
    for part in parts:
        keyword = normalise_keyword(part)
        if keyword and re.search(r"[a-z]", keyword):
            seen.setdefault(keyword, None)
    return list(seen)


@dataclass
class Taxonomy:
    version: str
    labels: dict[str, list[str]]  # task -> sorted ids
    mapping: dict[str, list[str]]  # canonical keyword -> ids (any task)
    ignored: dict[str, str]  # canonical keyword -> reason
    aliases: dict[str, str] = field(default_factory=dict)

    @property
    def task_of(self) -> dict[str, str]:
        return {label: task for task, ids in self.labels.items() for label in ids}

    def canonical(self, keyword: str) -> str:
        keyword = normalise_keyword(keyword)
        return self.aliases.get(keyword, keyword)

    def map_keywords(self, keywords: list[str]) -> tuple[dict[str, list[str]], list[str]]:
        """Labels per task, and the keywords that are neither mapped nor ignored."""
        task_of = self.task_of
        found: dict[str, set[str]] = {task: set() for task in self.labels}
        unmapped: list[str] = []
        for keyword in keywords:
            key = self.canonical(keyword)
            if key in self.mapping:
                for label in self.mapping[key]:
                    found[task_of[label]].add(label)
            elif key not in self.ignored:
                unmapped.append(keyword)
        return {task: sorted(ids) for task, ids in found.items()}, unmapped


def load_taxonomy(mapping_path: str | Path | None = None, contract_path: str | Path | None = None) -> Taxonomy:
    labels = load_contract(contract_path)
    mapping_path = paths.resolve(mapping_path or paths.TAXONOMY)
    raw = yaml.safe_load(mapping_path.read_text(encoding="utf-8")) or {}
    valid = {label for ids in labels.values() for label in ids}
    mapping: dict[str, list[str]] = {}
    problems: list[str] = []
    for keyword, ids in (raw.get("keywords") or {}).items():
        ids = [ids] if isinstance(ids, str) else list(ids or [])
        unknown = [i for i in ids if i not in valid]
        if unknown or not ids:
            problems.append(f"{keyword!r} -> {unknown or 'no ids'}")
        mapping[normalise_keyword(keyword)] = ids
    ignored = {normalise_keyword(k): str(v) for k, v in (raw.get("ignore") or {}).items()}
    both = sorted(set(mapping) & set(ignored))
    if both:
        problems.append(f"mapped and ignored at once: {both}")
    if problems:
        raise TaxonomyError(f"{mapping_path}: unknown label ids or bad entries: " + "; ".join(problems))
    aliases = {normalise_keyword(k): normalise_keyword(v) for k, v in (raw.get("aliases") or {}).items()}
    return Taxonomy(str(raw.get("version", "0")), labels, mapping, ignored, aliases)
