"""Annotator agreement: where two annotators decided on the same review, how often they agree on
each label, Cohen's kappa, and the disputed labels an adjudicator should look at.

An annotator's judgement of one label on one review comes from their own lines only:
- their latest *check* of the review judges every label of the vocabulary: present if the check
  lists it, absent if not;
- else (or when it is dated after that check, as the corrections contract applies it) their latest
  add/remove of that label: add = present, remove = absent;
- else they have no judgement of the label and it is not compared. An add of one label says nothing
  about the others: only a check does.

Items are reviews: for a pair, a (task, label) counts the reviews on which both have a judgement.
Pooled per task, an item is a (review, label) both judged. Kappa is `pipelines.labels.kappa`; it is
None where it is undefined and every row says why in `kappa_note`, so no table shows a 1.0 or a 0
that nobody measured.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from itertools import combinations
from pathlib import Path
from urllib.parse import quote

from pipelines.labels.corrections import Correction, CorrectionError, latest_checks, read_corrections
from pipelines.labels.kappa import cohen_kappa
from pipelines.labels.taxonomy import TASKS, load_contract

Key = tuple[str, str, str]  # (review_id, task, label)
POOLED = "(all labels)"
UNDEFINED = "undefined: both annotators gave every item the same judgement (no variance to compare)"
NO_ITEMS = "undefined: no item judged by both"
ONE_CONSTANT = "{who} gave every item the same judgement: kappa cannot exceed 0 here"


@dataclass(frozen=True)
class Judgement:
    """One annotator's say on one label of one review, and the line it comes from (for the page)."""

    annotator: str
    present: bool
    source: str  # "checked" | "add" | "remove"
    date: str
    evidence: str = ""
    note: str = ""
    origin: str = ""


@dataclass
class Agreement:
    """Two annotators on one label (or, with label POOLED, on every label of a task)."""

    task: str
    label: str
    n: int  # items both judged
    agreed: int
    first_present: int
    second_present: int
    both_present: int
    agreement: float | None  # observed agreement, None with no items
    kappa: float | None
    kappa_note: str = ""  # why kappa is None, or why it says little
    reviews: int = 0  # distinct reviews among the items


@dataclass
class PairAgreement:
    first: str
    second: str
    reviews: int  # reviews both have at least one line on
    labels: list[Agreement] = field(default_factory=list)  # labels with n > 0, by task then label
    pooled: dict[str, Agreement] = field(default_factory=dict)  # task -> pooled over its labels


@dataclass
class Dispute:
    """A label on a review that annotators judged differently; `judgements` by annotator."""

    review_id: str
    task: str
    label: str
    judgements: list[Judgement]


@dataclass
class AgreementReport:
    annotators: list[str]
    pairs: list[PairAgreement]
    disputes: list[Dispute]

    def to_dict(self) -> dict:
        """The JSON report: plain dicts and lists, floats as computed (None stays null)."""
        return asdict(self)


def judgements(corrections: Iterable[Correction], vocabulary: dict[str, list[str]]) -> dict[str, dict[Key, Judgement]]:
    """annotator -> (review, task, label) -> their judgement, by the rules of the module docstring."""
    by_annotator: dict[str, list[Correction]] = defaultdict(list)
    for c in corrections:
        by_annotator[c.annotator].append(c)
    out: dict[str, dict[Key, Judgement]] = {}
    for annotator, own in sorted(by_annotator.items()):
        ordered = sorted(own, key=lambda c: c.date)  # stable: file then line order within a day
        judged: dict[Key, Judgement] = {}
        checks = latest_checks(ordered)
        for rid, check in checks.items():
            for task in TASKS:
                listed = set((check.labels or {}).get(task, []))
                for label in sorted(set(vocabulary.get(task, [])) | listed):
                    judged[(rid, task, label)] = _judgement(check, label in listed)
        for c in ordered:  # a decision dated after the annotator's check still applies, as in the label stage
            if not c.is_check and not (c.review_id in checks and c.date <= checks[c.review_id].date):
                judged[c.key] = _judgement(c, c.action == "add")
        out[annotator] = judged
    return out


def _judgement(c: Correction, present: bool) -> Judgement:
    return Judgement(c.annotator, present, c.action, c.date, c.evidence, c.note, c.origin)


def compare(first: str, second: str, judged: dict[str, dict[Key, Judgement]]) -> PairAgreement:
    """Per-label and pooled agreement of two annotators over the items both judged."""
    one, two = judged.get(first, {}), judged.get(second, {})
    common = {k[0] for k in one} & {k[0] for k in two}
    pair = PairAgreement(first, second, len(common))
    shared = sorted(set(one) & set(two))
    for task in TASKS:
        items = [k for k in shared if k[1] == task]
        for label in sorted({k[2] for k in items}):
            keys = [k for k in items if k[2] == label]
            pair.labels.append(_agreement(task, label, keys, one, two, (first, second)))
        pair.pooled[task] = _agreement(task, POOLED, items, one, two, (first, second))
    return pair


def _agreement(task: str, label: str, keys: list[Key], one: dict, two: dict, names: tuple[str, str]) -> Agreement:
    a = [one[k].present for k in keys]
    b = [two[k].present for k in keys]
    n = len(keys)
    agreed = sum(x == y for x, y in zip(a, b, strict=True))
    kappa = cohen_kappa(a, b)
    return Agreement(
        task=task,
        label=label,
        n=n,
        agreed=agreed,
        first_present=sum(a),
        second_present=sum(b),
        both_present=sum(x and y for x, y in zip(a, b, strict=True)),
        agreement=round(agreed / n, 4) if n else None,
        kappa=kappa,
        kappa_note=kappa_note(a, b, names),
        reviews=len({k[0] for k in keys}),
    )


def kappa_note(a: list[bool], b: list[bool], names: tuple[str, str] = ("first", "second")) -> str:
    """Why a kappa is undefined or uninformative ("" when it means what it says): a table that
    printed 1.0 for two annotators who never saw the label, or 0 with nothing to say, would mislead
    whoever decides whether the guidelines work."""
    if not a:
        return NO_ITEMS
    constant = [name for name, v in zip(names, (a, b), strict=True) if len(set(v)) == 1]
    if len(constant) == 2 and a[0] == b[0]:
        return UNDEFINED
    if len(constant) == 2:
        return "each annotator gave every item one judgement, opposite ones: kappa is 0 by construction"
    if constant:
        return ONE_CONSTANT.format(who=constant[0])
    return ""


def find_disputes(judged: dict[str, dict[Key, Judgement]]) -> list[Dispute]:
    """Every (review, task, label) that two or more annotators judged and not all alike, sorted by
    review, task and label; each lists every annotator's judgement with its evidence or note."""
    by_key: dict[Key, list[Judgement]] = defaultdict(list)
    for annotator in sorted(judged):
        for key, j in judged[annotator].items():
            by_key[key].append(j)
    return [
        Dispute(*key, judgements=found)
        for key, found in sorted(by_key.items())
        if len(found) > 1 and len({j.present for j in found}) > 1
    ]


def annotator_agreement(
    corrections: Iterable[Correction], vocabulary: dict[str, list[str]] | None = None
) -> AgreementReport:
    """Every pair of annotators who both have a line on at least one common review, and the disputes.
    `vocabulary` (task -> label ids) is what a check judges; default: the label contract."""
    vocabulary = vocabulary if vocabulary is not None else load_contract()
    corrections = list(corrections)
    judged = judgements(corrections, vocabulary)
    reviews: dict[str, set[str]] = defaultdict(set)
    for c in corrections:
        reviews[c.annotator].add(c.review_id)
    names = sorted(reviews)
    pairs = [compare(a, b, judged) for a, b in combinations(names, 2) if reviews[a] & reviews[b]]
    return AgreementReport(names, pairs, find_disputes(judged))


def read_agreement(folder: str | Path, vocabulary: dict[str, list[str]] | None = None) -> AgreementReport:
    """The report over a corrections folder (or one file); malformed lines raise CorrectionError,
    as they stop the label stage: agreement over part of the decisions would be silently wrong."""
    corrections, problems = read_corrections(folder)
    if problems:
        raise CorrectionError(problems)
    return annotator_agreement(corrections, vocabulary)


def _shown(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.2f}"


def _row(a: Agreement) -> dict:
    return {
        "task": a.task,
        "label": a.label,
        "n": a.n,
        "reviews": a.reviews,
        "agreed": a.agreed,
        "agreement": _shown(a.agreement),
        "kappa": _shown(a.kappa),
        "kappa_defined": a.kappa is not None,
        "kappa_note": a.kappa_note,
    }


def agreement_context(corrections: Iterable[Correction], vocabulary: dict[str, list[str]] | None = None) -> dict:
    """What `agreement.html` needs (the route adds base.html's annotator, corrections_dir and
    default_models). Keys:

    - annotators: list[str], everyone with a line;
    - pairs: list of {first, second, reviews (common reviews), rows}; rows are the pooled row of each
      task (label "(all labels)", `pooled` True) followed by that task's labels with n > 0; each row
      has task, label, n, reviews, agreed, agreement and kappa as display strings ("0.83" or
      "undefined"), kappa_defined (bool), kappa_note (why undefined or weak, "" otherwise), pooled;
    - disputes: list of {review_id, url ("/corpus/<id>", where one adjudicates), labels}, by
      review; labels are {task, label, judgements}, each judgement {annotator, judgement ("present" or
      "absent"), source ("checked" | "add" | "remove"), date, evidence, note};
    - disputed_labels: int, the number of disputed (review, task, label)s.
    """
    report = annotator_agreement(corrections, vocabulary)
    pairs = []
    for pair in report.pairs:
        rows = []
        for task in TASKS:
            rows.append(_row(pair.pooled[task]) | {"pooled": True})
            rows += [_row(a) | {"pooled": False} for a in pair.labels if a.task == task]
        pairs.append({"first": pair.first, "second": pair.second, "reviews": pair.reviews, "rows": rows})
    return {
        "annotators": report.annotators,
        "pairs": pairs,
        "disputes": group_disputes(report.disputes),
        "disputed_labels": len(report.disputes),
    }


def group_disputes(disputes: list[Dispute]) -> list[dict]:
    """Disputes per review, in review order, with the link to the review's adjudication page."""
    grouped: dict[str, list[dict]] = {}
    for d in disputes:
        grouped.setdefault(d.review_id, []).append(
            {
                "task": d.task,
                "label": d.label,
                "judgements": [
                    {
                        "annotator": j.annotator,
                        "judgement": "present" if j.present else "absent",
                        "source": j.source,
                        "date": j.date,
                        "evidence": j.evidence,
                        "note": j.note,
                    }
                    for j in d.judgements
                ],
            }
        )
    return [
        {"review_id": rid, "url": f"/corpus/{quote(rid, safe='')}", "labels": found} for rid, found in grouped.items()
    ]
