"""Static int8 quantisation of the ONNX encoder, measured: `python -m research.onnx_int8` →
experiments/onnx_int8.json.

Dynamic int8 (the PyTorch option) scales activations per batch, so a review's scores moved with its
batch-mates. Static quantisation fixes every scale once, from calibration data (items of train-split
summaries here), so it cannot; it is kept only if every figure stays within 0.005 F1 and one review
scores the same alone and in a batch. This script quantises each task's quoted-items encoder (QDQ,
per-channel weights), and reports encoder speed, validation and 2023 test micro/macro F1 of the
quoted-items model and the ensemble with the fp32 and the int8 encoder, and the batch check.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from pipelines.dataset import load_task_data
from pipelines.evaluation.scoring import scores
from pipelines.labels.taxonomy import TASKS
from pipelines.modeling.encoding import ONNX_FILE, forget_recent_embeddings, padded
from pipelines.modeling.registry import load_classifier

OUT = Path("experiments/onnx_int8.json")


class Calibration:
    """Batches of train items as onnxruntime's calibration reader."""

    def __init__(self, encoder, pieces: list[str], batch: int = 32):
        windows = encoder.item_token_ids(pieces, 64)
        self.batches = [padded(windows[k : k + batch], encoder.pad_id) for k in range(0, len(windows), batch)]

    def get_next(self):
        if not self.batches:
            return None
        ids, mask = self.batches.pop(0)
        return {"input_ids": ids, "attention_mask": mask}


def quantise(source: Path, target: Path, calibration: Calibration) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        str(source),
        str(target),
        calibration,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
    )


def encoders_of(model) -> list:
    """The ONNX encoders inside a model (an ensemble's members, a routed model's learned part)."""
    found = getattr(model, "encoder", None)
    inner = [*getattr(model, "members", {}).values(), getattr(model, "learned", None)]
    return ([found] if found is not None else []) + [e for m in inner if m is not None for e in encoders_of(m)]


def figures(model, data) -> dict:
    out = {}
    for split in ("validation", "test"):
        part = data.splits[split]
        forget_recent_embeddings()
        result = scores(part.y, model.predict(part.texts), data.labels)
        out[split] = {"micro_f1": result["micro_f1"], "macro_f1": result["macro_f1"]}
    return out


def main() -> None:
    import onnxruntime

    out = {}
    for task in TASKS:
        data = load_task_data(task, labels="all")
        quoted = load_classifier(Path("models") / task / "quoted_items")
        ensemble = load_classifier(Path("models") / task / "ensemble")
        encoder = encoders_of(quoted)[0]
        items = [p for t in data.splits["train"].texts[:60] for p in t.split("; ")][:320]
        fp32 = {"quoted_items": figures(quoted, data), "ensemble": figures(ensemble, data)}
        probe = data.splits["test"].texts[:20]
        started = time.perf_counter()
        encoder.encode_items(items, 64)
        fp32_s = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            target = Path(folder) / "int8.onnx"
            quantise(Path(encoder.model_dir) / ONNX_FILE, target, Calibration(encoder, items))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 2
            session = onnxruntime.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
            originals = {id(enc): (enc, enc.session) for enc in encoders_of(quoted) + encoders_of(ensemble)}
            for enc, _ in originals.values():  # one shared encoder per weights: restored below
                enc.session = session
            started = time.perf_counter()
            encoder.encode_items(items, 64)
            int8_s = time.perf_counter() - started
            int8 = {"quoted_items": figures(quoted, data), "ensemble": figures(ensemble, data)}
            forget_recent_embeddings()
            alone = np.vstack([quoted.predict_proba([t]) for t in probe])
            forget_recent_embeddings()
            together = quoted.predict_proba(probe)
            for enc, original in originals.values():
                enc.session = original
            forget_recent_embeddings()
        out[task] = {
            "fp32": fp32,
            "int8": int8,
            "largest_f1_change": max(
                abs(int8[k][s][m] - fp32[k][s][m]) for k in fp32 for s in fp32[k] for m in fp32[k][s]
            ),
            "items_per_s": {"fp32": round(len(items) / fp32_s, 1), "int8": round(len(items) / int8_s, 1)},
            "alone_vs_batch_max_difference": float(np.abs(alone - together).max()),
        }
        print(task, json.dumps(out[task]))
    OUT.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
