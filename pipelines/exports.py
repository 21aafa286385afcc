"""Tag rows as files an analyst takes away: with their own corrections beside the model's labels, only
the rows of the label they were looking at, and a CSV a spreadsheet opens without JSON in any cell.

Formats (`export_rows`):
- `jsonl`: the rows as `reviewtag tag` writes them; with reader labels each row gains `reader`
  {task: labels}.
- `csv`: the full layout (`tagging.CSV_FIELDS`: nested fields as JSON cells), unchanged for the
  scripts that read it; with reader labels, `reader_<task>` and `reader_changes` columns follow.
- `sheet`: one row per review, one plain value per cell:
    source, document, review_id, title, <task> (labels joined by "; ") for each task,
    [reader_<task> for each task, reader_changes ("+harm_type/neglect; -learning_theme/early_help")],
    then for every label of every task `<task>:<label>` (the score, 3 decimals) immediately followed by
    `<task>:<label>:threshold` (the threshold that row was decided at, up to 4 decimals: full reports
    have higher theme thresholds than summaries, so thresholds vary by row and need a column each, and
    beside its score a reader compares the two at a glance),
    evidence ("label: first quote" per given label, joined by " | "), model, notes, error.

`excel=True` (either CSV layout): a UTF-8 byte-order mark, so Excel reads UTF-8, and every cell that
a spreadsheet would run as a formula (starting with = + - @, tab or carriage return: a review's text
can start with "=") is prefixed with "'". Both CSV layouts end lines with CRLF (RFC 4180, Python's
csv default) whether or not `excel` is set.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from pipelines.labels.corrections import Correction, apply_corrections
from pipelines.labels.taxonomy import TASKS
from pipelines.tagging import CSV_FIELDS, csv_cells

FORMATS = ("jsonl", "csv", "sheet")
MEDIA = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
ReaderLabels = dict[str, dict[str, list[str]]]  # review_id -> task -> the analyst's labels


def reader_labels_for(rows: list[dict], corrections: list[Correction]) -> ReaderLabels:
    """Each tagged review's labels as the analyst left them: the model's labels with that review's
    corrections applied by the one contract (`apply_corrections`: a check replaces them, adds and
    removes dated after it still apply). `corrections` are valid ones (as the workbench reads them).
    The model's order is kept for the labels it gave; the analyst's additions follow, sorted."""
    base: ReaderLabels = {}
    for row in rows:
        if row.get("review_id") and row["review_id"] not in base:
            base[row["review_id"]] = {task: list(row.get(task) or []) for task in TASKS}
    applied = apply_corrections(base, corrections).labels
    out: ReaderLabels = {}
    for rid, by_task in base.items():
        final = {task: set(applied[rid][task]) for task in TASKS}
        out[rid] = {
            task: [x for x in by_task[task] if x in final[task]] + sorted(final[task] - set(by_task[task]))
            for task in TASKS
        }
    return out


def export_rows(
    rows: list[dict],
    fmt: str,
    reader_labels: ReaderLabels | None = None,
    label: str | None = None,
    excel: bool = False,
) -> tuple[bytes, str, str]:
    """(content, media type, file suffix such as ".csv") of `rows` in `fmt` (jsonl | csv | sheet).
    `label` keeps the rows where the model or the reader gives it (the page's filter: a label the
    analyst added is part of their work). `excel` is for the CSV layouts only."""
    if fmt not in FORMATS:
        raise ValueError(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if excel and fmt == "jsonl":
        raise ValueError("excel applies to the csv and sheet layouts, not jsonl")
    readers = None if reader_labels is None else [reader_of(row, reader_labels) for row in rows]
    kept = [k for k, row in enumerate(rows) if not label or label in given(row) + given(readers[k] if readers else {})]
    rows = [rows[k] for k in kept]
    readers = None if readers is None else [readers[k] for k in kept]
    if fmt == "jsonl":
        pairs = zip(rows, readers or [None] * len(rows), strict=True)
        text = "".join(
            json.dumps(r | ({"reader": rd} if rd is not None else {}), ensure_ascii=False) + "\n" for r, rd in pairs
        )
        return text.encode("utf-8"), MEDIA["jsonl"], ".jsonl"
    header, cells = (full_layout if fmt == "csv" else sheet_layout)(rows, readers)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([guard(cell) for cell in line] if excel else line for line in cells)
    return ((BOM if excel else "") + buffer.getvalue()).encode("utf-8"), MEDIA["csv"], ".csv"


def reader_of(row: dict, reader_labels: ReaderLabels) -> dict[str, list[str]]:
    """A row's reader labels; a review the analyst left alone (or an input that failed) reads as the
    model tagged it."""
    return reader_labels.get(row.get("review_id") or "") or {task: list(row.get(task) or []) for task in TASKS}


def given(labels: dict) -> list[str]:
    """Every label of every task in a row or a reader's {task: labels}."""
    return [x for task in TASKS for x in labels.get(task) or []]


def changes(row: dict, reader: dict[str, list[str]]) -> str:
    """What the analyst changed: "+task/label" added, "-task/label" removed, "; "-joined."""
    out = []
    for task in TASKS:
        model, final = row.get(task) or [], reader.get(task) or []
        out += [f"+{task}/{x}" for x in final if x not in model] + [f"-{task}/{x}" for x in model if x not in final]
    return "; ".join(out)


def reader_cells(row: dict, reader: dict[str, list[str]]) -> list[str]:
    return [joined(reader.get(task)) for task in TASKS] + [changes(row, reader)]


def reader_header() -> list[str]:
    return [f"reader_{task}" for task in TASKS] + ["reader_changes"]


def full_layout(rows: list[dict], readers: list[dict] | None) -> tuple[list[str], Iterable[list[str]]]:
    """`tagging.render`'s CSV cells, in its column order, and the reader columns after them."""
    header = CSV_FIELDS + (reader_header() if readers is not None else [])
    lines = []
    for k, row in enumerate(rows):
        flat = csv_cells(row)
        line = ["" if flat.get(name) is None else str(flat[name]) for name in CSV_FIELDS]
        lines.append(line + (reader_cells(row, readers[k]) if readers is not None else []))
    return header, lines


def score_columns(rows: list[dict]) -> list[tuple[str, str]]:
    """(task, label) for every label scored in any row, tasks in order, labels sorted."""
    seen = {(task, x) for row in rows for task, scores in (row.get("scores") or {}).items() for x in scores}
    order = {task: k for k, task in enumerate(TASKS)}
    return sorted(seen, key=lambda tl: (order.get(tl[0], len(order)), tl))


def sheet_layout(rows: list[dict], readers: list[dict] | None) -> tuple[list[str], Iterable[list[str]]]:
    """The spreadsheet layout (module docstring): plain values only."""
    columns = score_columns(rows)
    header = ["source", "document", "review_id", "title", *TASKS]
    header += reader_header() if readers is not None else []
    header += [name for task, x in columns for name in (f"{task}:{x}", f"{task}:{x}:threshold")]
    header += ["evidence", "model", "notes", "error"]
    lines = []
    for k, row in enumerate(rows):
        line = [plain(row.get(name)) for name in ("source", "document", "review_id", "title")]
        line += [joined(row.get(task)) for task in TASKS]
        line += reader_cells(row, readers[k]) if readers is not None else []
        for task, x in columns:
            score = (row.get("scores") or {}).get(task, {}).get(x)
            threshold = (row.get("thresholds") or {}).get(task, {}).get(x)
            line += ["" if score is None else f"{score:.3f}", "" if threshold is None else decimals(threshold)]
        line += [first_quotes(row), models_of(row), joined(row.get("notes")), plain(row.get("error"))]
        lines.append(line)
    return header, lines


def first_quotes(row: dict) -> str:
    """The first evidence quote of each given label, as "label: quote", joined by " | "."""
    evidence = row.get("evidence") or {}
    quotes = [(x, evidence[x][0]["text"]) for x in given(row) if evidence.get(x)]
    return " | ".join(f"{x}: {plain(text)}" for x, text in quotes)


def models_of(row: dict) -> str:
    return "; ".join(f"{task}={m['name']}@{m['version']}" for task, m in (row.get("model") or {}).items())


def decimals(value: float) -> str:
    """Up to 4 decimals, trailing zeros dropped (0.5, 0.4125): a threshold as a reader writes it."""
    return f"{value:.4f}".rstrip("0").rstrip(".")


def joined(values: list[str] | None) -> str:
    return "; ".join(plain(v) for v in values or [])


def plain(value: object) -> str:
    """A cell on one line: a spreadsheet row stays one line high and every tool splits it alike."""
    return "" if value is None else " ".join(str(value).split())


def guard(cell: str) -> str:
    """A cell a spreadsheet shows as text rather than runs as a formula (CSV injection)."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell
