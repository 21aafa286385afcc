"""The readers' quotes: the passage each reader label came with, and the item of a review it falls in.

One reader for both sources a quote comes from, so the shipped quoted-items kind and the research that
chose it read the same quotes:
- correction files (`data/corrections/*.jsonl`, the contract of `pipelines.labels.corrections`): read
  through `read_corrections`, so a malformed line fails as it fails the label stage, and in decision
  order (date, then file and line, as `apply_corrections` orders them): an `add` that a later `remove`
  of the same review, task and label superseded is not a quote of a label the review has;
- the reader passes' decision files (`data/gold/passes/decisions/**.jsonl`):
  `{review_id, <task>: [{label, evidence}], keyword_check: [{task, label, decision, evidence}]}`, every
  label a reader gave and every keyword label a reader kept, with its quote.

And one matcher (`quote_start`, `quoted_items`): where a quote occurs in a review's text, verbatim or
with its whitespace differing (a quote copied across a line break), and which item holds it.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from pipelines import paths
from pipelines.labels.corrections import (
    MIN_EVIDENCE_WORDS,
    Correction,
    CorrectionError,
    latest_checks,
    read_corrections,
)

log = logging.getLogger(__name__)
Span = tuple[int, int]


def _files(source: str | Path) -> list[Path]:
    path = paths.resolve(source)  # params name them relative to the project root
    return sorted(path.rglob("*.jsonl")) if path.is_dir() else [path] if path.is_file() else []


def _rows(file: Path) -> Iterator[tuple[int, dict | None]]:
    """(line number, the JSON object on it, or None where it is not one), blank lines skipped."""
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        yield number, row if isinstance(row, dict) else None


def is_corrections_file(file: Path) -> bool:
    """A corrections file's lines are decisions with an `action`; a decision file's are reviews. A file
    with no readable line is read as corrections, so its malformed lines are reported."""
    return next(("action" in row for _, row in _rows(file) if row is not None), True)


def standing_adds(corrections: list[Correction]) -> list[Correction]:
    """The adds no later remove of the same (review, task, label) superseded, in decision order."""
    ordered = sorted(corrections, key=lambda c: c.date)  # stable: file then line within a day
    removed_later: set[tuple[str, str, str]] = set()
    standing: list[Correction] = []
    for correction in reversed(ordered):
        if correction.action == "remove":
            removed_later.add(correction.key)
        elif correction.action == "add" and correction.key not in removed_later:
            standing.append(correction)
    checks = latest_checks(corrections)  # a later check without the label supersedes the add too
    return [
        c
        for c in standing[::-1]
        if not (
            (check := checks.get(c.review_id))
            and c.date <= check.date
            and c.label not in (check.labels or {}).get(c.task, [])
        )
    ]


def _decision_quotes(file: Path, task: str) -> Iterator[tuple[str, str, str]]:
    for number, row in _rows(file):
        if row is None:
            log.warning("%s:%d: not a JSON object; it teaches nothing", file, number)
            continue
        given = [(item.get("label"), item.get("evidence")) for item in row.get(task, []) or []]
        given += [
            (item.get("label"), item.get("evidence"))
            for item in row.get("keyword_check", []) or []
            if item.get("task") == task and item.get("decision") == "keep"
        ]
        for label, quote in given:
            yield str(row.get("review_id", "")), label, quote


def quoted_labels(sources: list[str], task: str) -> Iterator[tuple[str, str, str]]:
    """(review id, label, quote) for `task` from the decision and correction files in `sources`
    (folders, searched recursively, or files): decision files first, in order, then the standing adds.
    Quotes under MIN_EVIDENCE_WORDS words say nothing and are skipped. Raises CorrectionError listing
    every malformed correction line, as the label stage does: a model learns from every correction or
    from none."""
    files = [file for source in sources for file in _files(source)]
    corrections: list[Correction] = []
    problems: list[str] = []
    given: list[tuple[str, str, str]] = []
    for file in files:
        if is_corrections_file(file):
            found, bad = read_corrections(file)
            corrections += found
            problems += bad
        else:
            given += _decision_quotes(file, task)
    if problems:
        raise CorrectionError(problems)
    given += [(c.review_id, c.label, c.evidence) for c in standing_adds(corrections) if c.task == task]
    for review_id, label, quote in given:
        if label and quote and len(str(quote).split()) >= MIN_EVIDENCE_WORDS:
            yield review_id, str(label), str(quote)


def load_quotes(sources: list[str], task: str) -> dict[str, set[str]]:
    """label -> its quotes, whichever review they came from (a training text is matched by substring)."""
    quotes: dict[str, set[str]] = {}
    for _, label, quote in quoted_labels(sources, task):
        quotes.setdefault(label, set()).add(quote)
    return quotes


def quote_start(text: str, quote: str, flat_text: str | None = None) -> int | None:
    """Where `quote` starts in `text`: verbatim, else with any run of whitespace standing for any other
    (`flat_text`, the text with single spaces, may be passed to spare recomputing it per quote)."""
    at = text.find(quote)
    if at >= 0:
        return at
    words = quote.split()
    flat_text = " ".join(text.split()) if flat_text is None else flat_text
    if not words or " ".join(words) not in flat_text:  # cheap test first: most quotes are not there
        return None
    match = re.search(r"\s+".join(map(re.escape, words)), text)
    return match.start() if match else None


def item_at(spans: list[Span], at: int | None) -> int | None:
    """The item whose [start, end) holds character `at`."""
    if at is None or at < 0:
        return None
    return next((k for k, (a, b) in enumerate(spans) if a <= at < b), None)


def quoted_items(text: str, spans: list[Span], quotes: Iterable[str]) -> set[int]:
    """The items of `text` (its `spans`) in which any of `quotes` starts."""
    flat_text = " ".join(text.split())
    found = {item_at(spans, quote_start(text, quote, flat_text)) for quote in quotes}
    found.discard(None)
    return found  # type: ignore[return-value]
