"""What a reader sees of one review's labels: each label with its score and threshold (so "0.38 not given"
beside "0.30 given" reads as what it is), its meaning, where the model and the readers stand on it, and how
uncertain the models were about the review as a whole (the queue's order).

Pure functions of a tag row and the corrections on file: the page, the queue and the tests share them.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.exports import reader_labels_for
from pipelines.labels.corrections import Correction, latest_checks
from pipelines.labels.taxonomy import TASKS

NEAR = 0.10  # a score this close to its label's threshold is a decision the model was unsure of


@dataclass
class LabelView:
    task: str
    label: str
    score: float
    threshold: float
    given: bool  # the model gave it (score >= threshold)
    final: bool  # the reader labels hold it (the model's, after every decision on file)
    status: str  # "" (undecided) | accepted | rejected | added | checked
    by: str = ""  # who decided
    note: str = ""  # their reason or quote
    quotes: int = 0
    meaning: str = ""
    colour: int = 0
    likely: float | None = None  # the calibrated score: about how often a label scored so is right
    scored: bool = True  # False: a reader's label the model does not score (outside its vocabulary)

    @property
    def near(self) -> bool:
        return abs(self.score - self.threshold) <= NEAR


def thresholds_of(row: dict, task: str) -> dict[str, float]:
    """The thresholds the row was decided at (rows carry them since schema 4); 0.5 where a row lacks them."""
    given = (row.get("thresholds") or {}).get(task) or {}
    return {label: float(given.get(label, 0.5)) for label in (row.get("scores") or {}).get(task, {})}


def label_views(
    row: dict, corrections: list[Correction], meanings: dict[str, str], colours: dict[str, int]
) -> dict[str, list[LabelView]]:
    """Per task: the labels the model gave or a reader decided on, most probable first, then every other
    label of the task (the "all scores" list), each with its standing."""
    review_id = row["review_id"]
    mine = [c for c in corrections if c.review_id == review_id]
    final = reader_labels_for([row], mine)[review_id]
    check = latest_checks(mine).get(review_id)
    latest: dict[tuple[str, str], Correction] = {}
    quoted: dict[tuple[str, str], str] = {}  # the checker's own quotes from before the check, still shown
    for c in sorted((c for c in mine if not c.is_check), key=lambda c: c.date):
        latest[(c.task, c.label)] = c
        if check and c.annotator == check.annotator and c.date <= check.date and c.action == "add":
            quoted[(c.task, c.label)] = c.evidence
    out: dict[str, list[LabelView]] = {}
    for task in TASKS:
        scores = dict((row.get("scores") or {}).get(task, {}))
        unscored = {c.label for c in mine if c.task == task and c.label not in scores} | {
            label for label in final[task] if label not in scores
        }
        scores |= {label: 0.0 for label in sorted(unscored)}
        calibrated = (row.get("calibrated") or {}).get(task, {})
        thresholds = thresholds_of(row, task)
        given = set(row.get(task) or [])
        views = []
        for label, score in scores.items():
            decision = latest.get((task, label))
            status, by, note = _standing(label in given, decision, check, task, label)
            if status == "checked" and not note:
                note = quoted.get((task, label), "")
            views.append(
                LabelView(
                    task,
                    label,
                    float(score),
                    thresholds.get(label, 0.5),
                    label in given,
                    label in final[task],
                    status,
                    by,
                    note,
                    len((row.get("evidence") or {}).get(label, [])),
                    meanings.get(label, ""),
                    colours.get(label, 0),
                    calibrated.get(label),
                    label not in unscored,
                )
            )
        views.sort(key=lambda v: (not (v.given or v.final or v.status), -v.score))
        out[task] = views
    return out


def _standing(given: bool, decision: Correction | None, check: Correction | None, task: str, label: str):
    """(status, by, note) of one label: the latest decision on it, else the review's check, else none."""
    if decision is not None and (check is None or decision.date > check.date):
        if decision.action == "add":
            return ("accepted" if given else "added"), decision.annotator, decision.evidence
        return "rejected", decision.annotator, decision.note
    if check is not None:
        held = label in (check.labels or {}).get(task, [])
        return ("checked" if held else ("rejected" if given else "")), check.annotator, ""
    return "", "", ""


def uncertainty(row: dict) -> tuple[int, float, float]:
    """(labels within NEAR of their threshold, the smallest distance of any label to its threshold, the
    largest gap between two ensemble members on one label): the queue puts the reviews the models were
    least sure of, and disagreed most on, first."""
    near, margin = 0, 1.0
    for task in TASKS:
        thresholds = thresholds_of(row, task)
        for label, score in ((row.get("scores") or {}).get(task) or {}).items():
            distance = abs(float(score) - thresholds.get(label, 0.5))
            near += distance <= NEAR
            margin = min(margin, distance)
    spread = max((float(v) for v in (row.get("disagreement") or {}).values()), default=0.0)
    return near, margin, spread
