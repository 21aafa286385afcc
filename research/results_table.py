"""Markdown tables of experiments/evaluation.json for the README: `python -m research.results_table`.

The README's results are this script's output, so they are the figures `dvc repro` produced."""

from __future__ import annotations

import json
import sys
from pathlib import Path

DETAIL = Path("experiments/evaluation.json")
SPLITS = (
    ("cv", "CV (train)"),
    ("validation", "validation"),
    ("validation_oof_thresholds", "val, OOF thr."),
    ("test", "test 2023"),
)


def pair(result: dict | None, key: str = "macro_f1") -> str:
    return f"{result['micro_f1']:.3f} / {result[key]:.3f}" if result else "–"


def overview(metrics: dict, champions: dict) -> str:
    lines = [
        "| task | model | "
        + " | ".join(name for _, name in SPLITS)
        + " | test, keyword labels | test few-shot macro |",
        "|---|---|" + "---|" * (len(SPLITS) + 2),
    ]
    for task, by_kind in metrics.items():
        for kind, result in by_kind.items():
            mark = f"**{kind}** (champion)" if champions.get(task, {}).get("kind") == kind else kind
            cells = [pair(result.get(split, {}).get("reader")) for split, _ in SPLITS]
            test = result["test"]
            few = test["reader"]["few_shot"]
            few_cell = f"{few['macro_f1']:.3f} ({len(few['support'])} labels)" if few["support"] else "– (none)"
            cells += [pair(test["keyword"]), few_cell]
            lines.append(f"| {task} | {mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_label(metrics: dict, task: str, kind: str, frequent: list[str]) -> str:
    test = metrics[task][kind]["test"]["reader"]["per_label"]
    cv = metrics[task][kind].get("cv", {}).get("reader", {}).get("per_label", {})
    lines = [
        "| label | group | test P | test R | test F1 | test n | CV F1 | train n |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, v in test.items():
        group = "frequent" if label in frequent else "few-shot"
        c = cv.get(label, {})
        lines.append(
            f"| {label} | {group} | {v['precision']:.2f} | {v['recall']:.2f} | {v['f1']:.2f} | {v['support']} "
            f"| {c.get('f1', float('nan')):.2f} | {c.get('support', '–')} |"
        )
    return "\n".join(lines)


def main() -> None:
    detail = json.loads(DETAIL.read_text(encoding="utf-8"))
    champions = json.loads(Path("experiments/champions.json").read_text(encoding="utf-8"))["champions"]
    print(overview(detail["metrics"], champions))
    for task, champion in champions.items():
        print(f"\n{task}, {champion['kind']} (champion), reader labels:\n")
        print(per_label(detail["metrics"], task, champion["kind"], detail["frequent_labels"][task]))


if __name__ == "__main__":
    sys.exit(main())
