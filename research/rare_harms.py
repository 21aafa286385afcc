"""Per-label figures of two model folders side by side (issue 21's "before and after"):
`python -m research.rare_harms --before OLD_MODELS --after models [--kind ensemble]` →
experiments/rare_harms.json and a Markdown table on stdout.

For each task and label: precision, recall and F1 on CV (the train split's out-of-fold scores with the
model's validation-tuned thresholds, pooled over the folds: the few-shot labels have too few positives
per fold for a per-fold mean), on validation and on the 2023 test split (which judges and never chooses),
and recall with its support on the rare-harm challenge set (data/gold/challenge, SYNTHETIC, choosing
nothing). Each model is scored at its default operating point, as `reviewtag tag` applies it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data, multi_hot
from pipelines.evaluation.reports import load_gold
from pipelines.evaluation.scoring import micro_precision_recall, scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.base import CV_PROBA_FILE
from pipelines.modeling.registry import load_classifier

OUT = Path("experiments/rare_harms.json")
CHALLENGE = Path("data/gold/challenge/gold.jsonl")


def figures(y: np.ndarray, pred: np.ndarray, labels: list[str]) -> dict:
    s = scores(y, pred, labels)
    precision, recall = micro_precision_recall(y, pred)
    per = {
        label: {k: round(float(v[k]), 3) for k in ("precision", "recall", "f1")} | {"support": int(v["support"])}
        for label, v in s["per_label"].items()
    }
    summary = {"micro_f1": s["micro_f1"], "macro_f1": s["macro_f1"], "precision": precision, "recall": recall}
    return {"summary": {k: round(float(v), 4) for k, v in summary.items()}, "per_label": per}


def model_figures(root: Path, task: str, kind: str) -> dict:
    model = load_classifier(root / task / kind)
    data = load_task_data(task, labels=model.labels)
    train = data.splits["train"]
    oof = np.load(root / task / kind / CV_PROBA_FILE, allow_pickle=False)
    out = {"cv": figures(train.y, model.decide(oof), model.labels)}
    for split in ("validation", "test"):
        part = data.splits[split]
        out[split] = figures(part.y, model.predict(part.texts), model.labels)
    challenge = load_gold(CHALLENGE)
    y = multi_hot(challenge.labels[task], model.labels)
    out["challenge"] = figures(y, model.predict(challenge.texts), model.labels)
    return out


def table(task: str, before: dict, after: dict) -> str:
    head = f"\n### {task}\n\n| label | CV F1 | val F1 | test F1 | challenge recall (n) |\n|---|---|---|---|---|"
    rows = [head]
    for label in after["cv"]["per_label"]:
        cells = []
        for split in ("cv", "validation", "test"):
            b, a = before[split]["per_label"].get(label), after[split]["per_label"][label]
            cells.append(f"{b['f1'] if b else '–'} → {a['f1']} ({a['support']})")
        b, a = before["challenge"]["per_label"].get(label), after["challenge"]["per_label"][label]
        cells.append(f"{b['recall'] if b else '–'} → {a['recall']} ({a['support']})" if a["support"] else "–")
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    for split in ("cv", "validation", "test", "challenge"):
        b, a = before[split]["summary"], after[split]["summary"]
        rows.append(
            f"| **{split}** micro / macro / P / R | "
            + " / ".join(f"{b[k]:.3f} → {a[k]:.3f}" for k in ("micro_f1", "macro_f1", "precision", "recall"))
            + " | | | |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=Path("models"))
    parser.add_argument("--kind", default="ensemble")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    args = parser.parse_args(argv)
    report = {}
    for task in args.tasks:
        report[task] = {
            "before": model_figures(args.before, task, args.kind),
            "after": model_figures(args.after, task, args.kind),
        }
        print(table(task, report[task]["before"], report[task]["after"]))
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
