"""Reader corrections over the keyword labels: the one contract that the label stage, `reviewtag
correct` and the analysts' page share.

`data/corrections/*.jsonl` holds one decision per line:
    {"review_id", "task", "label", "action": "add" | "remove", "evidence", "annotator", "date", "note"}
An `add` needs `evidence`, a verbatim quote of the review's text; a `remove` needs a reason in `note`.
Final labels = keyword labels + adds - removes.

Decisions about the same (review, task, label) are taken in date order: a later decision supersedes
an earlier one (an analyst overruling last year's reader), and the report lists it. Opposite decisions
on the same day cannot be ordered, so they are a contradiction and fail the whole set: a dataset is
built from every correction or from none, never from part of them.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

from pipelines import paths
from pipelines.labels.taxonomy import TASKS

ACTIONS = ("add", "remove")
SOURCE_KEYWORD, SOURCE_ADDED, SOURCE_REMOVED = "keyword", "reader_added", "keyword_removed_by_reader"


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
    origin: str = ""  # "file:line", never written back

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "origin"}

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.review_id, self.task, self.label)


FIELDS = [f.name for f in fields(Correction) if f.name != "origin"]
MIN_EVIDENCE_WORDS = 3  # a quote must say something: "neglect" alone is a keyword, not evidence
REQUIRED = ("review_id", "task", "label", "action", "annotator", "date")


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
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        return None, f"{origin}: unknown field(s) {', '.join(unknown)}"
    if any(not isinstance(data.get(k, ""), str) for k in FIELDS):
        return None, f"{origin}: every field must be a string"
    missing = [k for k in REQUIRED if not data.get(k, "").strip()]
    if missing:
        return None, f"{origin}: missing {', '.join(missing)}"
    if data["task"] not in TASKS:
        return None, f"{origin}: unknown task {data['task']!r} (expected {' or '.join(TASKS)})"
    if data["action"] not in ACTIONS:
        return None, f"{origin}: unknown action {data['action']!r} (expected add or remove)"
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"]) or not _valid_date(data["date"]):
        return None, f"{origin}: date {data['date']!r} is not YYYY-MM-DD"
    if Date.fromisoformat(data["date"]) > Date.today() + timedelta(days=1):
        return None, f"{origin}: date {data['date']} is in the future (a later date overrides every earlier decision)"
    if data["action"] == "add" and len(data.get("evidence", "").split()) < MIN_EVIDENCE_WORDS:
        return (
            None,
            f"{origin}: an add needs evidence: a verbatim quote of the review's text, {MIN_EVIDENCE_WORDS}+ words",
        )
    if data["action"] == "remove" and not data.get("note", "").strip():
        return None, f"{origin}: a remove needs a reason in note"
    return Correction(**{k: data.get(k, "") for k in FIELDS}, origin=origin), None


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


def apply_corrections(keyword_labels: dict[str, dict[str, list[str]]], corrections: list[Correction]) -> Applied:
    """Final = keyword + adds - removes, the latest decision per (review, task, label) winning.
    Call `validate` first: this assumes every correction is valid."""
    ordered = sorted(corrections, key=lambda c: c.date)  # stable: file then line order within a day
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
        for task in TASKS:
            keyword = set(by_task.get(task, []))
            source = {label: SOURCE_KEYWORD for label in keyword}
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
    return Applied(labels, provenance, _report(corrections, latest, effect, superseded, no_ops))


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


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on a sidecar file, not on the data file: an undo replaces the data file,
    and a lock held on a replaced inode would no longer exclude anyone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def append_correction(path: str | Path, correction: Correction) -> str:
    """Append one line under the lock, flushed and fsynced before the lock is released, so two
    writers never interleave half-lines and a written decision survives a crash. Returns the line."""
    path = Path(path)
    line = json.dumps(correction.to_dict(), ensure_ascii=False) + "\n"
    with _locked(path), open(path, "ab+") as handle:  # bytes: a torn last character cannot break the check
        end = handle.seek(0, os.SEEK_END)
        if end > 0:
            handle.seek(end - 1)
            if handle.read(1) != b"\n":  # a previous writer died mid-line: never glue onto it
                handle.write(b"\n")
        handle.write(line.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    return line


def remove_line(path: str | Path, line: str) -> bool:
    """Undo: drop the last occurrence of exactly `line` (as `append_correction` returned it), under
    the same lock, by writing a new file and renaming it over the old one."""
    path = Path(path)
    target = line if line.endswith("\n") else line + "\n"
    with _locked(path):
        if not path.exists():
            return False
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        matches = [i for i, existing in enumerate(lines) if existing == target]
        if not matches:
            return False
        del lines[matches[-1]]
        tmp = path.with_name(f".{path.name}.undo.tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            out.writelines(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
        return True


ANNOTATOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def corpus_texts(path: str | Path | None = None) -> dict[str, str]:
    """The texts corrections are checked against: the label stage's input (ingest..dedup output)."""
    from pipelines.records import read_jsonl

    path = paths.resolve(path or paths.CORPUS)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `dvc repro` (or the ingest..dedup stages) first")
    return {row["review_id"]: row["text"] for row in read_jsonl(path)}


def record(
    fields_: dict[str, str],
    texts: dict[str, str],
    vocabulary: dict[str, list[str]],
    directory: str | Path,
) -> tuple[Path, str]:
    """Validate one new decision against the corpus and every correction already on disk, then
    append it to `<directory>/<annotator>.jsonl`. Raises CorrectionError (nothing written) if it is
    invalid; problems in other, older lines do not block it. Returns the file and the line written."""
    annotator = fields_.get("annotator", "")
    if not ANNOTATOR.fullmatch(annotator or ""):
        raise CorrectionError([f"annotator {annotator!r}: use letters, digits, '.', '_' or '-' (it names a file)"])
    path = Path(directory) / f"{annotator}.jsonl"
    origin = "new correction"
    correction, problem = parse_line(json.dumps({k: v for k, v in fields_.items() if v is not None}), origin)
    if problem:
        raise CorrectionError([problem])
    # One lock over the whole folder from reading to appending: two tabs (or two annotators) that
    # decide the same label on the same day cannot both pass validation and leave a contradiction
    # that would fail the next `dvc repro`.
    with _locked(Path(directory) / "corrections"):
        existing, _ = read_corrections(directory)
        problems = [p for p in validate([*existing, correction], texts, vocabulary) if origin in p]
        if problems:
            raise CorrectionError(problems)
        return path, append_correction(path, correction)
