"""Heads over frozen embeddings (SetFit's "head"), and pooling of their scores into a document's.

- `pool`: window or item probabilities → one row per document (max or mean), the same code in
  training, validation and tagging;
- the linear head and its one training loop (`train_head`): AdamW, optional warmup then linear
  decay, early stopping on validation loss with the best state restored. The transformer kind trains
  its head with it over windows (`train_linear_head`, BCE with pos_weight); the research items kind
  trains through its multiple-instance pooling with the same loop;
- the per-label logistic-regression head of the quoted-items kind (`logistic_head`), fitted on the
  items the readers quoted (`quoted_examples`);
- safetensors save and load of a head.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pipelines.modeling.linear import pool  # noqa: F401  (torch-free; research imports it from here too)

NEVER = -30.0  # bias of a label with too few quoted items to learn: probability ~0, routed or missed
MIN_QUOTED = 2  # quoted items a label needs before its logistic regression is fitted
IMPROVEMENT = 1e-5  # a validation loss must beat the best by this much to count as better


def as_tensor(array: np.ndarray) -> torch.Tensor:
    """Without a copy where torch may share the array; a copy of a read-only (shared, cached) one."""
    return torch.from_numpy(array) if array.flags.writeable else torch.tensor(array)


def linear_head(dim: int, n_labels: int, seed: int | None = None) -> nn.Linear:
    """A new linear head; `seed` reseeds torch first, so a seeded fit always starts from the same weights."""
    if seed is not None:
        torch.manual_seed(seed)
    return nn.Linear(dim, n_labels)


def head_proba(head: nn.Module, emb: np.ndarray) -> np.ndarray:
    """Per-row label probabilities: sigmoid of the head in float32, returned as float64."""
    with torch.inference_mode():
        return torch.sigmoid(head(as_tensor(emb))).double().numpy()


def pos_weight(target: torch.Tensor, cap: float) -> torch.Tensor:
    """Negatives per positive for each label (capped): rare labels are not drowned by the common ones."""
    positives = target.sum(0)
    return ((len(target) - positives) / positives.clamp(min=1)).clamp(max=cap)


def mean_bce(truth: np.ndarray, proba: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities the caller has already kept off 0 and 1 (each at the
    precision it computed them in)."""
    return float(-(truth * np.log(proba) + (1 - truth) * np.log(1 - proba)).mean())


@dataclass(frozen=True)
class HeadTraining:
    """How a head is trained; `warmup_ratio` None keeps the learning rate constant."""

    learning_rate: float
    weight_decay: float
    epochs: int
    batch_size: int
    patience: int  # epochs without a better validation loss before stopping
    seed: int
    max_pos_weight: float = 20.0
    warmup_ratio: float | None = None


@dataclass(frozen=True)
class Trained:
    best_epoch: int  # 0: never validated
    best_loss: float  # inf: never validated


def warmup_linear_decay(optimizer: torch.optim.Optimizer, total: int, warmup_ratio: float):
    """Linear warmup over the first `warmup_ratio` of the steps, then linear decay to zero."""
    warmup = int(total * warmup_ratio)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)),
    )


def train_head(
    head: nn.Module,
    n_examples: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    validation_loss: Callable[[nn.Module], float] | None,
    settings: HeadTraining,
) -> Trained:
    """Train `head` in place: `batch_loss(example indices)` per shuffled batch (a seeded generator, so
    the order is reproducible), and, after every epoch, `validation_loss(head)`; stop after `patience`
    epochs without improvement and restore the best state. Without validation, every epoch runs."""
    generator = torch.Generator().manual_seed(settings.seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay)
    schedule = None
    if settings.warmup_ratio is not None:
        steps_per_epoch = max(1, -(-n_examples // settings.batch_size))
        schedule = warmup_linear_decay(optimizer, steps_per_epoch * settings.epochs, settings.warmup_ratio)
    best_loss, best_state, best_epoch, stale = float("inf"), None, 0, 0
    for epoch in range(settings.epochs):
        head.train()
        for batch in torch.randperm(n_examples, generator=generator).split(settings.batch_size):
            optimizer.zero_grad()
            batch_loss(batch).backward()
            optimizer.step()
            if schedule is not None:
                schedule.step()
        if validation_loss is None:
            continue
        head.eval()
        loss = validation_loss(head)
        if loss < best_loss - IMPROVEMENT:
            best_loss, best_epoch, stale = loss, epoch + 1, 0
            best_state = {k: v.detach().clone() for k, v in head.state_dict().items()}
        else:
            stale += 1
            if stale >= settings.patience:
                break
    if best_state is not None:
        head.load_state_dict(best_state)
    head.eval()
    return Trained(best_epoch, best_loss)


def train_linear_head(
    emb: np.ndarray,
    target: np.ndarray,
    validation_loss: Callable[[nn.Module], float] | None,
    settings: HeadTraining,
) -> tuple[nn.Linear, Trained]:
    """A linear head on rows of embeddings (windows) and their 0/1 targets (their document's labels):
    BCE on the logits with pos_weight, through `train_head`."""
    x = as_tensor(emb)
    y = torch.from_numpy(np.asarray(target, dtype=np.float32))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight(y, settings.max_pos_weight))
    head = linear_head(x.shape[1], y.shape[1], settings.seed)
    trained = train_head(head, len(x), lambda batch: loss_fn(head(x[batch]), y[batch]), validation_loss, settings)
    return head, trained


def quoted_examples(
    counts: Sequence[int], has_label: Sequence[bool], positives: Mapping[int, set[int]]
) -> tuple[list[int], list[int]]:
    """(rows, targets) one label's logistic regression learns from, rows indexing the documents' items
    laid end to end (`counts` per document): the quoted items of a document with the label
    (`positives[document]`) are positives, every item of a document without it a negative, and the
    other items of a document with the label are left out (they may or may not state it)."""
    first = np.concatenate([[0], np.cumsum(counts)]).astype(int)
    rows: list[int] = []
    targets: list[int] = []
    for i, labelled in enumerate(has_label):
        if labelled:
            chosen = [int(first[i]) + k for k in sorted(positives.get(i, ()))]
            rows += chosen
            targets += [1] * len(chosen)
        else:
            rows += list(range(first[i], first[i + 1]))
            targets += [0] * int(counts[i])
    return rows, targets


def logistic_head(
    emb: np.ndarray,
    examples: Sequence[tuple[list[int], list[int]]],
    C: float | Sequence[float],
    balanced: Sequence[bool] | None = None,
) -> nn.Linear:
    """One L2 logistic regression per label (`examples[j]` = its rows of `emb` and targets), as a linear
    head; a label with fewer than MIN_QUOTED positives (or no negative) gets bias NEVER and no weights.
    `C` is one inverse regularisation strength, or one per label; `balanced` says per label whether
    the classes are weighted to balance (default: every label)."""
    from sklearn.linear_model import LogisticRegression

    strengths = [float(C)] * len(examples) if np.isscalar(C) else [float(c) for c in C]
    balanced = [True] * len(examples) if balanced is None else list(balanced)
    weight = np.zeros((len(examples), emb.shape[1]), dtype=np.float32)
    bias = np.full(len(examples), NEVER, dtype=np.float32)
    for j, (rows, targets) in enumerate(examples):
        if sum(targets) < MIN_QUOTED or sum(targets) == len(targets):
            continue
        model = LogisticRegression(C=strengths[j], class_weight="balanced" if balanced[j] else None, max_iter=2000)
        model.fit(emb[rows], targets)
        weight[j], bias[j] = model.coef_[0], model.intercept_[0]
    head = nn.Linear(emb.shape[1], len(examples))
    head.load_state_dict({"weight": torch.from_numpy(weight), "bias": torch.from_numpy(bias)})
    return head.eval()


def save_head(head: nn.Module, path: Path) -> None:
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(path))


def load_head(path: Path) -> nn.Linear:
    """A linear head from its safetensors file (its shape read from the weights)."""
    state = load_file(str(path))
    head = nn.Linear(state["weight"].shape[1], state["weight"].shape[0])
    head.load_state_dict(state)
    return head.eval()
