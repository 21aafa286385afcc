"""A retrain's compare report: each task's retrained model against the current champion on validation,
the test years and the `later` split (when it holds reviews): per-label precision, recall and F1 with
their deltas, micro/macro, and the label decisions that flip.

The figures come from `pipelines.evaluation.reports` (the paired comparison `reviewtag compare` prints)
and the one scorer behind it; this module only lays them out for an evaluator deciding on Promote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipelines import retrain_registry
from pipelines.labels.taxonomy import TASKS
from pipelines.records import write_json

EXAMPLES = 5  # review ids shown per label and direction of a flip
NO_LATER = "no later reviews yet"


class _Remembered:
    """A classifier that scores one batch of texts once: the report reads each model's decisions twice
    (its own precision/recall, then the paired comparison), and an encoder kind takes seconds per split."""

    def __init__(self, inner: Any) -> None:
        self._inner, self._memo = inner, {}

    def score(self, texts: list[str]) -> Any:
        key = tuple(texts)
        if key not in self._memo:
            self._memo[key] = self._inner.score(texts)
        return self._memo[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _remembered(model):
    from pipelines.modeling.resolve import ResolvedModel

    return ResolvedModel(model.task, _Remembered(model.classifier), model.name, model.version)


def eval_sets(task: str) -> dict[str, Any]:
    """validation, test and later as EvalSets over the whole vocabulary (None for an empty `later`)."""
    from pipelines.config import SplitConfig, load_section
    from pipelines.dataset import load_task_data
    from pipelines.evaluation.reports import EvalSet

    data = load_task_data(task, labels="all")
    years = ", ".join(str(y) for y in load_section("split", SplitConfig).test_years)
    titles = {"validation": "validation", "test": f"test {years}", "later": f"later (after {years})"}
    out: dict[str, Any] = {}
    for name, title in titles.items():
        part = data.splits.get(name)
        if part is None or not len(part.ids):
            out[name] = None
            continue
        rows = [[data.labels[j] for j in np.flatnonzero(y)] for y in part.y]
        out[name] = EvalSet(title, list(part.ids), list(part.texts), {task: rows})
    return out


def _headline(result: dict) -> dict:
    return {key: result[key] for key in ("micro_f1", "macro_f1", "samples_f1", "n")}


def _empty_flips() -> dict:
    return {"gained": 0, "gained_right": 0, "lost": 0, "lost_right": 0, "gained_examples": [], "lost_examples": []}


def flip_counts(flips: list[dict], truth: dict[str, set[str]]) -> dict:
    """Per label: reviews the candidate newly gives it (gained) and no longer gives it (lost), how many of
    those changes the reader labels agree with, and a few review ids of each."""
    per_label: dict[str, dict] = {}
    for flip in flips:
        rid, gold = flip["review_id"], truth.get(flip["review_id"], set())
        for key, labels in (("gained", flip["added_by_b"]), ("lost", flip["removed_by_b"])):
            for label in labels:
                row = per_label.setdefault(label, _empty_flips())
                row[key] += 1
                row[f"{key}_right"] += (label in gold) == (key == "gained")
                if len(row[f"{key}_examples"]) < EXAMPLES:
                    row[f"{key}_examples"].append(rid)
    examples = [
        {"review_id": f["review_id"], "gained": f["added_by_b"], "lost": f["removed_by_b"]} for f in flips[:EXAMPLES]
    ]
    return {"reviews": len(flips), "per_label": dict(sorted(per_label.items())), "examples": examples}


def _candidate_only(candidate, dataset) -> dict:
    from pipelines.evaluation.reports import evaluate_model

    own, _, _ = evaluate_model(candidate, dataset)
    return {
        "title": dataset.name,
        "n": len(dataset.ids),
        "candidate": _headline(own),
        "champion": None,
        "per_label": {
            label: {"support": v["support"]} | {m: {"candidate": v[m]} for m in ("precision", "recall", "f1")}
            for label, v in own["per_label"].items()
        },
    }


def compare_split(champion, candidate, dataset, n_boot: int, figures: Path | None) -> dict:
    """One split: both models' own figures, and the paired comparison on the labels both predict."""
    from pipelines.evaluation.reports import compare_task, evaluate_model

    champion, candidate = _remembered(champion), _remembered(candidate)
    if figures:
        figures.mkdir(parents=True, exist_ok=True)
    paired, drawn = compare_task(champion, candidate, dataset, figures, n_boot=n_boot)
    own_a, _, _ = evaluate_model(champion, dataset)
    own_b, _, _ = evaluate_model(candidate, dataset)
    per_label = {}
    for label, v in paired["per_label"].items():
        a, b = own_a["per_label"][label], own_b["per_label"][label]
        row: dict[str, Any] = {"support": v["support"]}
        row["f1"] = {"champion": v["f1_a"], "candidate": v["f1_b"]} | {
            key: v[key] for key in ("delta", "ci_low", "ci_high")
        }
        for m in ("precision", "recall"):
            row[m] = {"champion": a[m], "candidate": b[m], "delta": round(b[m] - a[m], 4)}
        per_label[label] = row
    overall = {
        name: {"champion": v["a"], "candidate": v["b"]} | {k: v[k] for k in ("delta", "ci_low", "ci_high")}
        for name, v in paired["overall"].items()
    }
    truth = dict(zip(dataset.ids, (set(row) for row in dataset.labels[candidate.task]), strict=True))
    return {
        "title": dataset.name,
        "n": len(dataset.ids),
        "candidate": _headline(own_b),
        "champion": _headline(own_a),
        "labels_compared": paired["labels"],
        "only_candidate": [lab for lab in candidate.classifier.labels if lab not in paired["labels"]],
        "only_champion": [lab for lab in champion.classifier.labels if lab not in paired["labels"]],
        "overall": overall,
        "per_label": per_label,
        "mcnemar_p": paired["mcnemar_p"],
        "flips": flip_counts(paired["flips"], truth),
        "figures": [f"figures/{figures.name}/{name}" for name in drawn] if figures else [],
    }


def compare_task_models(task: str, before: retrain_registry.Champion, out: Path | None, n_boot: int) -> dict:
    """Everything the report says about one task."""
    found = retrain_registry.candidate(task)
    if found is None:
        return {"candidate": None, "champion": before, "notes": ["no retrained model: no experiments/champions.json"]}
    result: dict[str, Any] = {"candidate": found, "champion": retrain_registry.short(before), "notes": []}
    same = bool(before and before["kind"] == found["kind"] and before["version"] == found["version"])
    result["same_as_champion"] = same
    if not found["version"]:
        result["notes"].append("the retrained model is not registered (tracking.register?): Promote cannot move to it")
    if before is None:
        result["notes"].append("no champion alias yet: the retrained model's figures only")
    elif same:
        result["notes"].append("the retrained model is the champion's very files (nothing changed): figures only")
    candidate = retrain_registry.load_candidate(task, found)
    champion = retrain_registry.load_champion(task, before) if before and not same else None
    result["splits"] = {}
    for name, dataset in eval_sets(task).items():
        if dataset is None:
            result["splits"][name] = {"note": NO_LATER if name == "later" else f"no {name} reviews"}
        elif champion is None:
            result["splits"][name] = _candidate_only(candidate, dataset)
        else:
            figures = out / "figures" / f"{task}_{name}" if out else None
            result["splits"][name] = compare_split(champion, candidate, dataset, n_boot, figures)
    return result


def build_report(
    job_id: str,
    before: dict[str, retrain_registry.Champion],
    restored: list[dict],
    out: Path | None = None,
    n_boot: int = 1000,
) -> dict:
    """The whole report: per task, the candidate (with the version Promote would move the alias to), the
    champion it is compared with, and the per-split figures. `out` (the job folder) receives the plots."""
    tasks = {task: compare_task_models(task, before.get(task), out, n_boot) for task in TASKS}
    promote = [
        {
            "task": task,
            "kind": r["candidate"]["kind"],
            "version": r["candidate"]["version"],
            "command": f"reviewtag promote models:/{r['candidate']['model']}/{r['candidate']['version']}"
            f" --job {job_id} --by NAME --reason WHY",
        }
        for task, r in tasks.items()
        if r["candidate"] and r["candidate"]["version"] and not r.get("same_as_champion")
    ]
    return {
        "job_id": job_id,
        "alias": retrain_registry.CHAMPION,
        "tasks": tasks,
        "alias_restored": restored,
        "promote": promote,
    }


def write_report(folder: Path, job_id: str, before: dict, restored: list[dict], n_boot: int = 1000) -> dict:
    """compare.json and compare.md in the job folder; returns the report."""
    from pipelines.retrain_markdown import markdown

    report = build_report(job_id, before, restored, folder, n_boot)
    write_json(folder / "compare.json", report)
    (folder / "compare.md").write_text(markdown(report), encoding="utf-8")
    return report
