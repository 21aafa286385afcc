"""Which member decides each label of the champion ensemble (issue 21 item 1: "say which labels each member
decides"): `python -m research.member_roles`, written to experiments/member_roles.json.

On validation and on train out-of-fold rows (the members' saved `cv_proba.npy`), for every label and member:
of the ensemble's decisions (positive and negative), the share that flips when that member's score is replaced
by the mean of the other members (so the ensemble is the other members alone). A member "decides" a label where
it flips the most decisions; a few-shot harm that every member routes to the lexicon's rules is decided by those
rules; where no member flips any decision otherwise, by agreement. The test split is not read.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines import paths
from pipelines.dataset import load_task_data
from pipelines.modeling.base import CV_PROBA_FILE
from pipelines.modeling.registry import load_classifier

OUT = Path("experiments/member_roles.json")


def member_scores(task: str, split: str) -> tuple[list[str], np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """(labels, ensemble thresholds, {member: proba on the split}, reader labels) for the champion ensemble."""
    model_dir = paths.resolve(paths.MODELS) / task / "ensemble"
    ensemble = load_classifier(model_dir)
    data = load_task_data(task, labels=ensemble.labels)
    part = data.splits["train" if split == "cv" else "validation"]
    members = {}
    for name in ensemble.meta.params.get("members", []):
        member_dir = paths.resolve(paths.MODELS) / task / name
        if split == "cv":
            members[name] = np.load(member_dir / CV_PROBA_FILE, allow_pickle=False)
        else:
            members[name] = load_classifier(member_dir).predict_proba(part.texts)
    return ensemble.labels, ensemble.thresholds_at("balanced"), members, part.y


def roles(labels: list[str], thresholds: np.ndarray, members: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per label: how many of the ensemble's decisions each member flips, and the member that decides it."""
    names = list(members)
    stacked = np.stack([members[n] for n in names])  # (members, docs, labels)
    decided = stacked.mean(axis=0) >= thresholds
    out = {}
    for j, label in enumerate(labels):
        flips = {}
        for m, name in enumerate(names):
            others = np.delete(stacked[:, :, j], m, axis=0).mean(axis=0)
            flips[name] = int(((others >= thresholds[j]) != decided[:, j]).sum())
        top = max(flips, key=flips.get)
        same = bool(np.allclose(stacked[:, :, j], stacked[0, :, j]))  # a few-shot label routed to the rules
        out[label] = {
            "decisions": int(decided[:, j].sum()),
            "flipped_without": flips,
            "decided_by": top if flips[top] else ("the lexicon's rules, in every member" if same else "agreement"),
        }
    return out


def main() -> None:
    report = {}
    for task in ("harm_type", "learning_theme"):
        report[task] = {}
        for split in ("validation", "cv"):
            labels, thresholds, members, _ = member_scores(task, split)
            report[task][split] = roles(labels, thresholds, members)
        print(f"\n{task}: label | validation: decided by (flips per member) | train OOF: decided by")
        for label, v in report[task]["validation"].items():
            cv = report[task]["cv"][label]
            print(f"  {label} | {v['decided_by']} {v['flipped_without']} | {cv['decided_by']} {cv['flipped_without']}")
    OUT.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
