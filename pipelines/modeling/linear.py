"""Heads and pooling as plain arrays: what tagging applies to embeddings, without torch.

A head is trained in PyTorch (`heads`) or scikit-learn, then kept as its weight and bias (a
safetensors file of two float32 arrays), and applied here with numpy in float32, as torch's
`nn.Linear` + `sigmoid` compute it. Training, threshold tuning, cross-validation and tagging all
score through `LinearHead.proba`, so every figure is measured on the path that ships.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


def pool(proba: np.ndarray, owner: np.ndarray, n_docs: int, how: str) -> np.ndarray:
    """Window (or item) probabilities → one row per document (max or mean). `owner` is sorted (rows
    come in document order) and every document has at least one row."""
    starts = np.searchsorted(owner, np.arange(n_docs))
    if how == "max":
        return np.maximum.reduceat(proba, starts, axis=0)
    return np.add.reduceat(proba, starts, axis=0) / np.bincount(owner, minlength=n_docs)[:, None]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function without overflow for large |z|, in z's dtype."""
    small = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + small), small / (1 + small)).astype(z.dtype, copy=False)


@dataclass
class LinearHead:
    weight: np.ndarray  # (labels, dim) float32
    bias: np.ndarray  # (labels,) float32

    def proba(self, emb: np.ndarray) -> np.ndarray:
        """Per-row label probabilities: sigmoid of the logits in float32, returned as float64."""
        logits = np.asarray(emb, dtype=np.float32) @ self.weight.T + self.bias
        return sigmoid(logits).astype(np.float64)

    @classmethod
    def from_torch(cls, head) -> LinearHead:
        state = head.state_dict()
        return cls(state["weight"].detach().cpu().numpy().copy(), state["bias"].detach().cpu().numpy().copy())

    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        save_file({"weight": np.ascontiguousarray(self.weight), "bias": np.ascontiguousarray(self.bias)}, str(path))

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        from safetensors.numpy import load_file

        state = load_file(str(path))
        return cls(state["weight"].astype(np.float32), state["bias"].astype(np.float32))
