"""Evaluate one model set, or compare two, on a gold file or the temporal test split.

Reports are JSON + markdown + PNG: evaluators would rather look than read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipelines import long_documents
from pipelines.corpus.reading import read_path
from pipelines.dataset import multi_hot
from pipelines.evaluation import plots
from pipelines.evaluation.scoring import bootstrap_delta, mcnemar_exact, scores
from pipelines.labels.taxonomy import TASKS, load_contract
from pipelines.modeling.resolve import ResolvedModel
from pipelines.records import write_json
from pipelines.text import clean_text


class GoldError(ValueError):
    pass


@dataclass
class EvalSet:
    name: str
    ids: list[str]
    texts: list[str]
    labels: dict[str, list[list[str]]]  # task -> per-row label ids


def load_gold(path: str | Path, contract: str | Path | None = None) -> EvalSet:
    """Rows {"id", "text" or "path", "harm_type": [...], "learning_theme": [...]}; a `path` is read
    relative to the gold file. An unknown label id or unreadable row is an error naming the row."""
    path = Path(path)
    valid = load_contract(contract)
    ids, texts, labels = [], [], {task: [] for task in TASKS}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"{path}: cannot read gold file ({exc})") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise GoldError(f"{where}: not JSON ({exc.msg})") from exc
        if "text" in row:
            text = str(row["text"])
        elif "path" in row:
            result = read_path(path.parent / row["path"])
            if result.error:
                raise GoldError(f"{where}: {row['path']}: {result.error}")
            text = "\n\n".join(r.text for r in result.reviews)
        else:
            raise GoldError(f"{where}: needs a 'text' or a 'path'")
        for task in TASKS:
            unknown = [label for label in row.get(task, []) if label not in valid[task]]
            if unknown:
                raise GoldError(f"{where}: unknown {task} label(s) {unknown}")
            labels[task].append(list(row.get(task, [])))
        ids.append(str(row.get("id", number)))
        texts.append(clean_text(text))
    if not ids:
        raise GoldError(f"{path}: no gold rows")
    return EvalSet(path.name, ids, texts, labels)


def test_split_set(task: str) -> EvalSet:
    from pipelines.dataset import load_task_data

    data = load_task_data(task)
    split = data.splits["test"]
    rows = [[data.labels[j] for j in np.flatnonzero(y)] for y in split.y]
    return EvalSet("test split (2023)", split.ids, split.texts, {task: rows})


def predictions(model: ResolvedModel, dataset: EvalSet, operating_point: str = "default") -> np.ndarray:
    """Labels as `reviewtag tag` gives them: a full report (long_documents.min_chars or more) read by
    its sections at the long-document thresholds, anything shorter whole."""
    from pipelines.config import LongDocumentsConfig, load_section

    config = load_section("long_documents", LongDocumentsConfig)
    long = [long_documents.is_long(text, config) for text in dataset.texts]
    return long_documents.read(model.classifier, model.task, dataset.texts, long, config, 1.0, operating_point).decided


def evaluate_model(
    model: ResolvedModel, dataset: EvalSet, operating_point: str = "default"
) -> tuple[dict, np.ndarray, np.ndarray]:
    labels = model.classifier.labels
    y = multi_hot(dataset.labels[model.task], labels)
    pred = predictions(model, dataset, operating_point)
    result = scores(y, pred, labels)
    outside = sorted({lab for row in dataset.labels[model.task] for lab in row} - set(labels))
    if outside:
        result["labels_not_scored"] = outside  # gold labels the model was not trained on
    return result, y, pred


def markdown_table(result: dict) -> str:
    lines = ["| label | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|"]
    for label, v in result["per_label"].items():
        lines.append(f"| {label} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |")
    return "\n".join(lines)


def evaluation_report(
    models: dict[str, ResolvedModel], dataset: EvalSet, out_dir: Path | None, operating_point: str = "default"
) -> dict:
    report = {"dataset": dataset.name, "n": len(dataset.ids), "tasks": {}, "operating_point": operating_point}
    markdown = [f"# Evaluation on {dataset.name} ({len(dataset.ids)} reviews, {operating_point} thresholds)\n"]
    for task, model in models.items():
        result, _, _ = evaluate_model(model, dataset, operating_point)
        point = model.classifier.resolved_operating_point(operating_point)
        report["tasks"][task] = {"model": model.name, "version": model.version, "operating_point": point, **result}
        markdown += [
            f"## {task} — {model.name} ({model.version}, {point} thresholds)\n",
            f"micro-F1 **{result['micro_f1']:.3f}**, macro-F1 **{result['macro_f1']:.3f}**, "
            f"samples-F1 {result['samples_f1']:.3f}\n",
            markdown_table(result),
            "",
        ]
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_json(out_dir / "evaluation.json", report)
        (out_dir / "evaluation.md").write_text("\n".join(markdown) + "\n", encoding="utf-8")
    return report


def _flips(ids: list[str], truth: list[list[str]], labels: list[str], pred_a, pred_b) -> list[dict]:
    """Every review whose labels differ between A and B, with how many of B's changes are right."""
    flips = []
    for i, review_id in enumerate(ids):
        added = [labels[j] for j in np.flatnonzero(pred_b[i] & ~pred_a[i])]
        removed = [labels[j] for j in np.flatnonzero(pred_a[i] & ~pred_b[i])]
        if added or removed:
            gold = set(truth[i])
            flips.append(
                {
                    "review_id": review_id,
                    "added_by_b": added,
                    "removed_by_b": removed,
                    "b_right": sum(lab in gold for lab in added) + sum(lab not in gold for lab in removed),
                    "b_wrong": sum(lab not in gold for lab in added) + sum(lab in gold for lab in removed),
                }
            )
    return flips


def _interval(boot: dict, k: int) -> dict:
    return {
        key: round(float(boot[name][k]), 4)
        for key, name in (("delta", "delta"), ("ci_low", "low"), ("ci_high", "high"))
    }


def compare_task(
    a: ResolvedModel, b: ResolvedModel, dataset: EvalSet, out_dir: Path | None, n_boot: int = 1000
) -> tuple[dict, list[str]]:
    """A vs B on the labels both predict: F1 per label and overall with paired-bootstrap intervals, an
    exact McNemar test over all label decisions, the reviews that flip, and two figures."""
    labels = [label for label in a.classifier.labels if label in b.classifier.labels]
    y = multi_hot(dataset.labels[a.task], labels)

    def of(model: ResolvedModel) -> np.ndarray:
        columns = [model.classifier.meta.label2id[label] for label in labels]
        return predictions(model, dataset)[:, columns]

    pred_a, pred_b = of(a), of(b)
    score_a, score_b = scores(y, pred_a, labels), scores(y, pred_b, labels)
    boot = bootstrap_delta(y, pred_a, pred_b, n_boot=n_boot)
    per_label = {
        label: {
            "f1_a": score_a["per_label"][label]["f1"],
            "f1_b": score_b["per_label"][label]["f1"],
            **_interval(boot, j),
            "support": score_a["per_label"][label]["support"],
        }
        for j, label in enumerate(labels)
    }
    overall = {
        name: {"a": score_a[name], "b": score_b[name], **_interval(boot, k)}
        for k, name in zip((-2, -1), ("micro_f1", "macro_f1"), strict=True)
    }
    result = {
        "a": a.name,
        "b": b.name,
        "labels": labels,
        "overall": overall,
        "per_label": per_label,
        "mcnemar_p": round(mcnemar_exact((pred_a == y).ravel(), (pred_b == y).ravel()), 4),
        "flips": _flips(dataset.ids, dataset.labels[a.task], labels, pred_a, pred_b),
    }
    figures = _compare_figures(a, b, dataset.name, labels, per_label, out_dir) if out_dir else []
    return result, [f.name for f in figures]


def _compare_figures(a: ResolvedModel, b: ResolvedModel, name: str, labels: list[str], per_label: dict, out_dir: Path):
    return [
        plots.per_label_f1_bars(
            out_dir / f"{a.task}_f1_side_by_side.png",
            labels,
            {
                f"A {a.name}": [per_label[lab]["f1_a"] for lab in labels],
                f"B {b.name}": [per_label[lab]["f1_b"] for lab in labels],
            },
            f"{a.task}: per-label F1 on {name}",
        ),
        plots.per_label_f1_bars(
            out_dir / f"{a.task}_f1_delta.png",
            labels,
            {"B - A": [per_label[lab]["delta"] for lab in labels]},
            f"{a.task}: F1(B) - F1(A), 95% bootstrap intervals",
            errors={
                "B - A": (
                    np.array([per_label[lab]["ci_low"] for lab in labels]),
                    np.array([per_label[lab]["ci_high"] for lab in labels]),
                )
            },
        ),
    ]


def compare_markdown(report: dict) -> str:
    lines = [f"# {report['a']} (A) vs {report['b']} (B) on {report['dataset']}\n"]
    for task, result in report["tasks"].items():
        lines += [
            f"## {task}: {result['a']} vs {result['b']}\n",
            "| metric | A | B | B − A | 95% CI |",
            "|---|---:|---:|---:|---|",
        ]
        for name, v in result["overall"].items():
            lines.append(
                f"| {name} | {v['a']:.3f} | {v['b']:.3f} | {v['delta']:+.3f} | "
                f"[{v['ci_low']:+.3f}, {v['ci_high']:+.3f}] |"
            )
        lines += [
            "",
            f"Paired McNemar test over all label decisions: p = {result['mcnemar_p']:.4f}\n",
            "| label | F1 A | F1 B | B − A | 95% CI | support |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for label, v in result["per_label"].items():
            lines.append(
                f"| {label} | {v['f1_a']:.3f} | {v['f1_b']:.3f} | {v['delta']:+.3f} | "
                f"[{v['ci_low']:+.3f}, {v['ci_high']:+.3f}] | {v['support']} |"
            )
        lines += [""] + [f"![{f}]({f})" for f in result.get("figures", [])]
        lines += [
            "",
            f"### Reviews whose labels flip ({len(result['flips'])})\n",
            "| review | added by B | removed by B | B right | B wrong |",
            "|---|---|---|---:|---:|",
        ]
        for flip in result["flips"]:
            lines.append(
                f"| {flip['review_id']} | {', '.join(flip['added_by_b'])} | "
                f"{', '.join(flip['removed_by_b'])} | {flip['b_right']} | {flip['b_wrong']} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"
