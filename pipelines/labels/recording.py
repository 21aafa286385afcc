"""Writing reader decisions: validated against the corpus and every line already on disk, appended
under a lock and fsynced, undone by exact line. `reviewtag correct`, `reviewtag add` and the analysts'
page all write through here, so a line the page confirmed is the line the label stage reads.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines import paths
from pipelines.labels.corrections import (
    CHECKED,
    Correction,
    CorrectionError,
    apply_corrections,
    parse_line,
    read_corrections,
    validate,
)


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


def corpus_texts(path: str | Path | None = None, raw_dir: Path | None = None) -> dict[str, str]:
    """The texts corrections are checked against: the label stage's input (ingest..dedup output), and the
    reviews added since (`reviewtag add`), read as the next `dvc repro` will read them."""
    from pipelines.corpus.added import added_reviews
    from pipelines.records import read_jsonl

    path = paths.resolve(path or paths.CORPUS)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `dvc repro` (or the ingest..dedup stages) first")
    texts = {row["review_id"]: row["text"] for row in read_jsonl(path)}
    return {r.review_id: r.text for r in added_reviews(raw_dir) if r.review_id not in texts} | texts


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
        existing = _change_of_mind(existing, correction, path)
        problems = [p for p in validate([*existing, correction], texts, vocabulary) if origin in p]
        if problems:
            raise CorrectionError(
                [f"{p} (undo the other decision first, or record this one on a later day)" for p in problems]
            )
        return path, append_correction(path, correction)


def _change_of_mind(existing: list[Correction], new: Correction, path: Path) -> list[Correction]:
    """An annotator who reverses their own decision of the same day changes their mind: their earlier
    line is removed (as an undo would) rather than left to contradict the new one. Another annotator's
    opposite decision on the same day is still a contradiction, for a person to settle."""
    if new.is_check:
        return existing
    mine = [
        c
        for c in existing
        if c.key == new.key and c.annotator == new.annotator and c.date == new.date and c.action != new.action
    ]
    for old in mine:
        remove_line(path, json.dumps(old.to_dict(), ensure_ascii=False))
    return [c for c in existing if c not in mine] if mine else existing


def check_labels(
    review_id: str, model_labels: dict[str, list[str]], annotator: str, corrections: list[Correction]
) -> dict[str, list[str]]:
    """The labels an annotator sees on a review: the model's, after that annotator's own accepts, rejects
    and adds (and their own earlier check, if any). What "Done" records."""
    mine = [c for c in corrections if c.review_id == review_id and c.annotator == annotator]
    return apply_corrections({review_id: model_labels}, mine).labels[review_id]


def record_check(
    review_id: str,
    model_labels: dict[str, list[str]],
    annotator: str,
    texts: dict[str, str],
    vocabulary: dict[str, list[str]],
    directory: str | Path,
    note: str = "",
) -> tuple[Path, str, dict[str, list[str]]]:
    """Mark a review checked by `annotator` with the labels they see now (see `check_labels`)."""
    from datetime import date

    existing, _ = read_corrections(directory)
    labels = check_labels(review_id, model_labels, annotator, existing)
    fields_ = {
        "review_id": review_id,
        "action": CHECKED,
        "labels": labels,
        "annotator": annotator,
        "date": date.today().isoformat(),
        "note": note,
    }
    path, line = record(fields_, texts, vocabulary, directory)
    return path, line, labels
