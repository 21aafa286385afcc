"""Reader corrections over the keyword labels: the one contract that the label stage, `reviewtag
correct` and the analysts' page share.

`data/corrections/*.jsonl` holds one decision per line:
    {"review_id", "task", "label", "action": "add" | "remove", "evidence", "annotator", "date", "note"}
An `add` needs `evidence`, a verbatim quote of the review's text; a `remove` needs a reason in `note`.
Final labels = keyword labels + adds - removes.

A review is *checked* when an annotator has read it through and says its labels are complete:
    {"review_id", "action": "checked", "labels": {"harm_type": [...], "learning_theme": [...]},
     "annotator", "date", "note"}
The labels are the ones the annotator saw at that moment (the model's, after their own accepts, rejects
and adds). The latest check replaces a review's labels (keyword labels and earlier decisions alike), and
only decisions dated after it still apply: a check is what makes a newly added review, which has no
keyword list, a labelled example.

Decisions about the same (review, task, label) are taken in date order: a later decision supersedes
an earlier one (an analyst overruling last year's reader), and the report lists it. Opposite decisions
on the same day cannot be ordered, so they are a contradiction and fail the whole set: a dataset is
built from every correction or from none, never from part of them.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

from pipelines import paths
from pipelines.labels.taxonomy import TASKS

ACTIONS = ("add", "remove")
CHECKED = "checked"  # a whole review's labels, confirmed by an annotator
SOURCE_KEYWORD, SOURCE_ADDED, SOURCE_REMOVED = "keyword", "reader_added", "keyword_removed_by_reader"
SOURCE_CHECKED = "reader_checked"


class CorrectionError(ValueError):
    """One or more invalid corrections; `problems` holds one 'file:line: message' each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Correction:
    review_id: str
    task: str
    label: str
    action: str
    evidence: str
    annotator: str
    date: str
    note: str = ""
    labels: dict[str, list[str]] | None = None  # a check's labels per task; None for add/remove
    origin: str = ""  # "file:line", never written back

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("origin", "labels")}
        return out | ({"labels": self.labels} if self.labels is not None else {})

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.review_id, self.task, self.label)

    @property
    def is_check(self) -> bool:
        return self.action == CHECKED


FIELDS = [f.name for f in fields(Correction) if f.name not in ("origin", "labels")]
MIN_EVIDENCE_WORDS = 3  # a quote must say something: "neglect" alone is a keyword, not evidence
REQUIRED = ("review_id", "task", "label", "action", "annotator", "date")
REQUIRED_CHECK = ("review_id", "annotator", "date")


def normalise_quote(text: str) -> str:
    """What a quote must match: the text with the cleaning's character mapping and single spaces,
    so a quote selected in the original document (curly quotes, footnote marks, line breaks) still
    matches the cleaned review text."""
    from pipelines.text import normalise_unicode

    return " ".join(normalise_unicode(text).split())


def parse_line(line: str, origin: str) -> tuple[Correction | None, str | None]:
    """A correction, or the reason the line is malformed (format only: ids are checked later)."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"{origin}: malformed line, not JSON ({exc.msg})"
    if not isinstance(data, dict):
        return None, f"{origin}: malformed line, expected a JSON object"
    unknown = sorted(set(data) - set(FIELDS) - {"labels"})
    if unknown:
        return None, f"{origin}: unknown field(s) {', '.join(unknown)}"
    if any(not isinstance(data.get(k, ""), str) for k in FIELDS):
        return None, f"{origin}: every field but labels must be a string"
    if data.get("action") == CHECKED:
        return _parse_check(data, origin)
    if "labels" in data:
        return None, f"{origin}: labels belongs to a checked line only"
    missing = [k for k in REQUIRED if not data.get(k, "").strip()]
    if missing:
        return None, f"{origin}: missing {', '.join(missing)}"
    if data["task"] not in TASKS:
        return None, f"{origin}: unknown task {data['task']!r} (expected {' or '.join(TASKS)})"
    if data["action"] not in ACTIONS:
        return None, f"{origin}: unknown action {data['action']!r} (expected add, remove or checked)"
    if problem := _date_problem(data["date"], origin):
        return None, problem
    if data["action"] == "add" and len(data.get("evidence", "").split()) < MIN_EVIDENCE_WORDS:
        return (
            None,
            f"{origin}: an add needs evidence: a verbatim quote of the review's text, {MIN_EVIDENCE_WORDS}+ words",
        )
    if data["action"] == "remove" and not data.get("note", "").strip():
        return None, f"{origin}: a remove needs a reason in note"
    return Correction(**{k: data.get(k, "") for k in FIELDS}, origin=origin), None


def _date_problem(value: str, origin: str) -> str | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) or not _valid_date(value):
        return f"{origin}: date {value!r} is not YYYY-MM-DD"
    if Date.fromisoformat(value) > Date.today() + timedelta(days=1):
        return f"{origin}: date {value} is in the future (a later date overrides every earlier decision)"
    return None


def _parse_check(data: dict, origin: str) -> tuple[Correction | None, str | None]:
    """A checked line: the whole review's labels per task, as the annotator confirmed them."""
    missing = [k for k in REQUIRED_CHECK if not data.get(k, "").strip()]
    if missing:
        return None, f"{origin}: missing {', '.join(missing)}"
    if data.get("task") or data.get("label", CHECKED) not in ("", CHECKED) or data.get("evidence"):
        return None, f"{origin}: a checked line names no task, label or evidence (its labels say them)"
    labels = data.get("labels")
    if not isinstance(labels, dict) or set(labels) != set(TASKS):
        return None, f"{origin}: a checked line needs labels for each task ({', '.join(TASKS)})"
    if any(not isinstance(v, list) or not all(isinstance(x, str) for x in v) for v in labels.values()):
        return None, f"{origin}: labels must map each task to a list of label ids"
    if problem := _date_problem(data["date"], origin):
        return None, problem
    fixed = {k: data.get(k, "") for k in FIELDS} | {"task": "", "label": CHECKED}
    return Correction(**fixed, labels={t: sorted(set(labels[t])) for t in TASKS}, origin=origin), None


def _valid_date(value: str) -> bool:
    try:
        Date.fromisoformat(value)
    except ValueError:
        return False
    return True


def read_corrections(location: str | Path) -> tuple[list[Correction], list[str]]:
    """Every line of every `*.jsonl` in a folder (sorted by file name), or of one file, and the
    malformed ones."""
    out: list[Correction] = []
    problems: list[str] = []
    location = Path(location)
    files = sorted(location.glob("*.jsonl")) if location.is_dir() else [location] if location.is_file() else []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            correction, problem = parse_line(line, f"{paths.shown(path)}:{number}")
            if problem:
                problems.append(problem)
            else:
                out.append(correction)
    return out, problems


def validate(corrections: Iterable[Correction], texts: dict[str, str], vocabulary: dict[str, list[str]]) -> list[str]:
    """Problems against the corpus: unknown review or label, evidence not in the text, and
    same-day opposite decisions."""
    problems: list[str] = []
    normalised: dict[str, str] = {}
    by_key: dict[tuple, list[Correction]] = defaultdict(list)
    for c in corrections:
        if c.review_id not in texts:
            problems.append(f"{c.origin}: unknown review_id {c.review_id!r}")
            continue
        if c.is_check:
            unknown = [
                f"{t}/{label}" for t, ids in (c.labels or {}).items() for label in ids if label not in vocabulary[t]
            ]
            if unknown:
                problems.append(f"{c.origin}: unknown label(s) {', '.join(unknown)}")
            continue
        if c.label not in vocabulary[c.task]:
            problems.append(f"{c.origin}: unknown {c.task} label {c.label!r}")
            continue
        if c.evidence:
            text = normalised.setdefault(c.review_id, normalise_quote(texts[c.review_id]))
            if normalise_quote(c.evidence) not in text:
                problems.append(f"{c.origin}: evidence is not a quote of review {c.review_id}: {c.evidence[:60]!r}")
                continue
        by_key[c.key].append(c)
    for decisions in by_key.values():
        for day in {c.date for c in decisions}:
            same_day = [c for c in decisions if c.date == day]
            actions = {c.action for c in same_day}
            if len(actions) > 1:
                add = next(c for c in same_day if c.action == "add")
                remove = next(c for c in same_day if c.action == "remove")
                problems.append(
                    f"{remove.origin}: contradicts {add.origin} (remove vs add of {remove.task}/{remove.label} "
                    f"for {remove.review_id} on the same day)"
                )
    return problems


@dataclass
class Applied:
    """Final labels and provenance per review and task, and what the report counts."""

    labels: dict[str, dict[str, list[str]]]  # review_id -> task -> final labels (sorted)
    provenance: dict[str, dict[str, dict[str, str]]]  # review_id -> task -> label -> source
    report: dict
    checked_by: dict[str, str] = field(default_factory=dict)  # review_id -> annotator of its latest check


def apply_corrections(keyword_labels: dict[str, dict[str, list[str]]], corrections: list[Correction]) -> Applied:
    """Final = keyword + adds - removes, the latest decision per (review, task, label) winning.
    Call `validate` first: this assumes every correction is valid."""
    ordered = sorted(corrections, key=lambda c: c.date)  # stable: file then line order within a day
    checks = latest_checks(ordered)
    # a check replaces the review's labels: only decisions dated after it still apply
    ordered = [
        c for c in ordered if not c.is_check and not (c.review_id in checks and c.date <= checks[c.review_id].date)
    ]
    latest: dict[tuple, Correction] = {}
    superseded: list[dict] = []
    for c in ordered:
        previous = latest.get(c.key)
        if previous and previous.action != c.action:
            superseded.append({"line": previous.origin, "by": c.origin})
        latest[c.key] = c
    labels: dict[str, dict[str, list[str]]] = {}
    provenance: dict[str, dict[str, dict[str, str]]] = {}
    effect: Counter[tuple[str, str, str, str]] = Counter()  # (task, label, action, annotator)
    no_ops: list[str] = []
    for rid, by_task in keyword_labels.items():
        labels[rid], provenance[rid] = {}, {}
        check = checks.get(rid)
        for task in TASKS:
            keyword = set(check.labels[task]) if check and check.labels else set(by_task.get(task, []))
            source = {label: SOURCE_CHECKED if check else SOURCE_KEYWORD for label in keyword}
            for (c_rid, c_task, label), c in latest.items():
                if c_rid != rid or c_task != task:
                    continue
                if c.action == "add" and label not in keyword:
                    source[label] = SOURCE_ADDED
                elif c.action == "remove" and label in keyword:
                    source[label] = SOURCE_REMOVED
                else:
                    no_ops.append(c.origin)
                    continue
                effect[(task, label, c.action, c.annotator)] += 1
            labels[rid][task] = sorted(label for label, s in source.items() if s != SOURCE_REMOVED)
            provenance[rid][task] = dict(sorted(source.items()))
    report = _report(corrections, latest, effect, superseded, no_ops)
    report["checked"] = {
        "reviews": sum(rid in checks for rid in keyword_labels),
        "per_annotator": dict(sorted(Counter(c.annotator for c in checks.values()).items())),
    }
    return Applied(labels, provenance, report, {rid: c.annotator for rid, c in checks.items()})


def _before_check(c: Correction, checks: dict[str, Correction]) -> bool:
    return c.review_id in checks and c.date <= checks[c.review_id].date


def latest_checks(corrections: Iterable[Correction]) -> dict[str, Correction]:
    """Each checked review's latest check (date order; file then line order within a day)."""
    latest: dict[str, Correction] = {}
    for c in sorted((c for c in corrections if c.is_check), key=lambda c: c.date):
        latest[c.review_id] = c
    return latest


def _report(corrections, latest, effect, superseded, no_ops) -> dict:
    per_label: dict[str, dict[str, dict[str, int]]] = {task: {} for task in TASKS}
    per_annotator: dict[str, dict[str, int]] = {}
    for (task, label, action, annotator), n in sorted(effect.items()):
        per_label[task].setdefault(label, {"add": 0, "remove": 0})[action] += n
        per_annotator.setdefault(annotator, {"add": 0, "remove": 0})[action] += n
    files = Counter(c.origin.rsplit(":", 1)[0] for c in corrections)
    return {
        "lines": len(corrections),
        "files": dict(sorted(files.items())),
        "decisions": len(latest),
        "applied": {action: sum(n for k, n in effect.items() if k[2] == action) for action in ACTIONS},
        "superseded": superseded,
        "no_effect": {"count": len(no_ops), "reason": "adds a label the review already has, or removes one it lacks"},
        "per_task_label": per_label,
        "per_annotator": dict(sorted(per_annotator.items())),
    }
