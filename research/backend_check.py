"""Both encoder backends on the real models: `python -m research.backend_check` → experiments/backend_check.json.

For every trained model of both tasks, the ONNX and the PyTorch encoder score the 2023 test split and
the two full reports: the largest difference of any probability, whether every label decision and
every evidence span is the same. (tests/test_backends.py checks the same on tiny models in CI.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from pipelines.corpus.cleaning import clean_review
from pipelines.corpus.reading import read_path
from pipelines.dataset import load_task_data
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.registry import load_classifier

OUT = Path("experiments/backend_check.json")


def compare(kind: str, task: str, texts: list[str]) -> dict:
    onnx, torch_ = (load_classifier(Path("models") / task / kind, backend) for backend in ("onnx", "torch"))
    a, b = onnx.score(texts), torch_.score(texts)
    labels_a, labels_b = onnx.decide(a.proba), torch_.decide(b.proba)
    same_evidence = all(
        onnx.evidence(t, onnx.labels, 3, a.row(i)) == torch_.evidence(t, onnx.labels, 3, b.row(i))
        for i, t in enumerate(texts)
    )
    return {
        "max_abs_difference": float(np.abs(a.proba - b.proba).max()),
        "same_labels": bool((labels_a == labels_b).all()),
        "same_evidence": bool(same_evidence),
        "documents": len(texts),
    }


def main() -> None:
    reports = [
        clean_review(r, drop_truncated=False).text
        for path in sorted(Path("data/raw").glob("00[03]_*.txt"))
        for r in read_path(path).reviews
    ]
    out = {}
    for task in TASKS:
        texts = load_task_data(task).splits["test"].texts + reports
        for kind in ("transformer", "quoted_items", "ensemble"):
            out[f"{task}/{kind}"] = compare(kind, task, texts)
            print(task, kind, out[f"{task}/{kind}"])
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
