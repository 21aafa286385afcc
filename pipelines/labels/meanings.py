"""What each label id means, for a reader deciding on it: the contract's one-line meaning and the annotation
guidelines' "applies when" / "does not apply when" columns, read from the two documents that define them
(so the page never keeps a second copy that could drift from the guidelines annotators follow)."""

from __future__ import annotations

import re
from pathlib import Path

from pipelines import paths

GUIDELINES = Path("data/gold/guidelines.md")
_ROW = re.compile(r"^\|\s*`?([a-z][a-z0-9_]*)`?\s*\|(.*)\|\s*$")


def _table_rows(path: Path) -> dict[str, list[str]]:
    """Label id -> the other cells of its table row, for every `| id | ... |` row of a markdown file."""
    if not path.is_file():
        return {}
    rows: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if match and match.group(1) != "id":
            rows[match.group(1)] = [cell.strip().replace("**", "") for cell in match.group(2).split("|")]
    return rows


def label_meanings(contract: Path | None = None, guidelines: Path | None = None) -> dict[str, str]:
    """Label id -> a short text: the contract's meaning, then the guidelines' rule when they have one."""
    contract_rows = _table_rows(paths.resolve(contract or paths.CONTRACT))
    guideline_rows = _table_rows(paths.resolve(guidelines or GUIDELINES))
    out: dict[str, str] = {}
    for label, cells in contract_rows.items():
        text = cells[0] if cells else ""
        rule = guideline_rows.get(label)
        if rule and len(rule) >= 2:
            text += f". Applies when: {rule[0]}. Not when: {rule[1]}."
        out[label] = text
    return out
