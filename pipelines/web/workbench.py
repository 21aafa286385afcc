"""The server's state: the model sets (loaded once each), the corpus the corrections are checked
against, and the decisions this server wrote (for undo).

Corrections go through `pipelines.labels.corrections.record` and `remove_line` only: the page writes
exactly what `reviewtag correct` writes, validated the same way, appended under the same lock and
fsynced before the page says "recorded", so a decision the page confirmed survives a crash or kill.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pipelines import paths
from pipelines.corpus.added import added_stamp
from pipelines.labels.corrections import CorrectionError, read_corrections
from pipelines.labels.recording import corpus_texts, record, remove_line
from pipelines.labels.taxonomy import load_contract
from pipelines.modeling import registry
from pipelines.modeling.resolve import ResolvedModel, resolve

# What the page may ask for: never a path on the server's disk (the CLI's --model can be one).
WEB_SPEC = re.compile(r"^(champion|models:/[\w.-]+(@[\w-]+|/\d+)|runs:/[0-9a-f]{32}/[\w/.-]+|[0-9a-f]{32})$")


@dataclass
class Decision:
    id: str
    review_id: str
    task: str
    label: str
    action: str
    path: Path
    line: str
    undone: bool = False


@dataclass
class Workbench:
    default_spec: str
    annotator: str
    corrections_dir: Path
    contract: Path
    corpus: Path = field(default_factory=lambda: paths.resolve(paths.CORPUS))
    raw_dir: Path = field(default_factory=lambda: paths.resolve(paths.RAW))
    max_chars: int = 2_000_000
    operating_point: str = "default"  # thresholds every batch is tagged at (serve --operating-point)
    resolver: Callable[[str], dict[str, ResolvedModel]] = resolve
    vocabulary: dict[str, list[str]] = field(init=False)
    decisions: dict[str, Decision] = field(default_factory=dict, init=False)
    _models: dict[str, dict[str, ResolvedModel]] = field(default_factory=dict, init=False)
    _texts: dict[str, str] | None = field(default=None, init=False)
    _texts_stamp: tuple = field(default=(), init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.vocabulary = load_contract(self.contract)
        self.models(self.default_spec)  # at start-up: a wrong --model fails before the page exists

    def check_spec(self, spec: str) -> str:
        """A model choice from the page, or ValueError."""
        spec = spec.strip() or self.default_spec
        if spec == self.default_spec or spec in registry.kinds() or WEB_SPEC.match(spec):
            return spec
        raise ValueError(
            f"unknown model {spec[:80]!r}: choose champion, a kind ({', '.join(registry.kinds())}), "
            "models:/NAME@ALIAS, models:/NAME/N or a run id"
        )

    def models(self, spec: str) -> dict[str, ResolvedModel]:
        """Each model set is loaded once and kept: the first batch with a new choice pays for it."""
        with self._lock:
            if spec not in self._models:
                self._models[spec] = self.resolver(spec)
            return self._models[spec]

    def forget_models(self) -> None:
        """After a promotion: the next batch resolves `champion` again (the registry alias moved)."""
        with self._lock:
            self._models.clear()

    def describe(self, spec: str | None = None) -> list[str]:
        loaded = self._models.get(spec or self.default_spec, {})
        return [f"{m.name} (version {m.version})" for m in loaded.values()]

    def texts(self) -> dict[str, str]:
        """The corpus texts, re-read when `dvc repro` has rewritten them or a review was added; {} when
        there is no corpus."""
        path = Path(self.corpus)
        stamp = (path.stat().st_mtime if path.exists() else -1.0, added_stamp(self.raw_dir))
        with self._lock:
            if self._texts is None or stamp != self._texts_stamp:
                self._texts = corpus_texts(path, self.raw_dir) if path.exists() else {}
                self._texts_stamp = stamp
            return self._texts

    def correctable(self, review_id: str | None) -> str:
        """'' if corrections to this review can be recorded, else why not (shown on the page)."""
        if not Path(self.corpus).exists():
            return f"Corrections are off: the corpus {self.corpus} is missing; run `dvc repro` first."
        if not review_id or review_id not in self.texts():
            return "This review is not in the corpus yet: add it (the Add to corpus button), then correct it."
        return ""

    def decide(
        self, review_id: str, task: str, label: str, action: str, evidence: str, note: str, annotator: str = ""
    ) -> Decision:
        """Validate and append one decision (raises CorrectionError with the reasons; nothing written)."""
        if why := self.correctable(review_id):
            raise CorrectionError([why])
        fields = {
            "review_id": review_id,
            "task": task,
            "label": label,
            "action": action,
            "evidence": evidence.strip() if action == "add" else "",
            "annotator": annotator or self.annotator,
            "date": date.today().isoformat(),
            "note": note.strip(),
        }
        path, line = record(fields, self.texts(), self.vocabulary, self.corrections_dir)
        decision = Decision(secrets.token_urlsafe(9), review_id, task, label, action, path, line)
        with self._lock:
            self.decisions[decision.id] = decision
        return decision

    def undo(self, decision_id: str) -> Decision | None:
        """Remove exactly the line this server wrote for the decision; None if it is unknown or gone."""
        with self._lock:
            decision = self.decisions.get(decision_id)
        if decision is None or decision.undone or not remove_line(decision.path, decision.line):
            return None
        decision.undone = True
        return decision

    def withdraw(self, review_id: str, origin: str, annotator: str) -> str | None:
        """Remove one of `annotator`'s own lines on file for the review, written in any session (`origin` is
        the line's `file:line`); None when that line is not theirs, not this review's, or already gone. Another
        annotator's line is never removed here: disagreeing is a decision of one's own."""
        file_name, _, number = origin.rpartition(":")
        path = Path(self.corrections_dir) / f"{annotator}.jsonl"
        if Path(file_name).name != path.name or not number.isdigit() or not path.is_file():
            return None
        lines = path.read_text(encoding="utf-8").splitlines()
        k = int(number) - 1
        if not 0 <= k < len(lines):
            return None
        found, _ = read_corrections(path)
        mine = next((c for c in found if c.origin.endswith(f":{number}")), None)
        if mine is None or mine.review_id != review_id or mine.annotator != annotator:
            return None
        return lines[k] if remove_line(path, lines[k]) else None

    def session_decisions(self, review_id: str) -> list[Decision]:
        return [d for d in self.decisions.values() if d.review_id == review_id]
