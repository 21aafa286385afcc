"""Transformer classifier: a frozen pretrained encoder over overlapping token windows, and a
multi-label linear head trained with BCE + pos_weight and early stopping on validation.

Why frozen: with ~250 training reviews, full fine-tuning of MiniLM on 2 cores predicted almost
nothing for many epochs (see the issue's prototype), while frozen mean-pooled embeddings are
stable, cheap to cache, and fast to cross-validate. Long documents are never truncated to their
first window: every window is scored and window probabilities are aggregated (max or mean), by
the same code in training and inference. This is the only module that imports torch/transformers.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
import weakref
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from pipelines.classifiers.base import ReviewClassifier
from pipelines.classifiers.transformer_config import TransformerConfig, default_base_model

log = logging.getLogger(__name__)
HEAD_FILE = "head.safetensors"
ENCODER_DIR = "encoder"
RECENT_ITEMS = 20_000  # item embeddings kept from recent tagging calls (~30 MB): a listing's or a report's items
# What changes an encoder's output or speed; head-training settings do not, so kinds may share it.
ENCODING_SETTINGS = (
    "num_layers",
    "max_length",
    "stride",
    "max_windows",
    "batch_size",
    "quantize_int8",
    "num_threads",
    "device",
)
# Encoders loaded from saved models, by weights and settings: see `shared_encoder`.
_LOADED: weakref.WeakValueDictionary[tuple, WindowEncoder] = weakref.WeakValueDictionary()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def keep_first_layers(model: nn.Module, keep: int) -> None:
    """Drop all but the first `keep` transformer blocks: compute falls about in proportion, the only
    speed lever left once int8 and length-sorted batching are in (head_search measures what it costs
    in F1). BERT-style encoders only; the saved config records the new depth, so reloading matches."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(f"transformer.num_layers needs a BERT-style encoder; {type(model).__name__} has none")
    if keep < len(layers):
        model.encoder.layer = layers[:keep]
        model.config.num_hidden_layers = keep


class WindowEncoder:
    """Text → L2-normalised mean-pooled embeddings of overlapping token windows."""

    def __init__(self, model_dir: str, config: TransformerConfig):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.config = config
        self.model_dir = model_dir
        if config.num_threads > 0:
            torch.set_num_threads(config.num_threads)
        self.device = pick_device(config.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
        if config.num_layers:
            keep_first_layers(self.model, config.num_layers)
        self.fp32_model = self.model
        if config.quantize_int8 and self.device.type == "cpu":
            with warnings.catch_warnings():  # torch flags its quantised-tensor constructors as deprecated
                warnings.simplefilter("ignore", UserWarning)
                self.model = torch.ao.quantization.quantize_dynamic(self.model, {nn.Linear}, dtype=torch.qint8)
        self.model.to(self.device)
        self.dim = int(self.fp32_model.config.hidden_size)
        self.capped = 0  # documents whose windows were capped at max_windows, since creation
        # Training turns this on: fit, early stopping, threshold tuning and cross-validation then
        # encode each text once. Off for tagging, so a long batch does not pile up embeddings.
        self.keep_cache = False
        self._cache: dict[str, np.ndarray] = {}
        # Training: item embeddings by (tokens per item, text digest), every item encoded once.
        self.item_cache: dict[tuple[int, str], np.ndarray] = {}
        # Tagging: the embeddings of the last few calls, by (tokens per item, digest of all the call's items).
        self.recent_calls: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()

    def embed_items(self, pieces: list[str], max_tokens: int) -> np.ndarray:
        """Short texts (list items, sentences) → embeddings, each truncated to `max_tokens`.

        Why whole calls are reused while tagging, never single items: int8 activations are scaled per
        batch, so an item's embedding shifts slightly with its batch-mates. Reusing items from another
        call would make a review's scores depend on what was tagged before it. A call with exactly the
        same items (the other task's model on the same reviews) gets exactly the same embeddings, so the
        champion's two tasks embed a report once and every output equals an uncached run."""
        keys = [(max_tokens, hashlib.sha1(p.encode("utf-8")).hexdigest()) for p in pieces]
        if self.keep_cache:
            todo = sorted({k: i for i, k in enumerate(keys) if k not in self.item_cache}.values())
            if todo:
                fresh = self._encode_items([pieces[i] for i in todo], max_tokens)
                self.item_cache.update({keys[i]: fresh[k] for k, i in enumerate(todo)})
            return np.stack([self.item_cache[k] for k in keys]) if keys else np.zeros((0, self.dim), np.float32)
        call = (max_tokens, hashlib.sha1("\0".join(k for _, k in keys).encode()).hexdigest())
        if call not in self.recent_calls:
            unique = sorted({k: i for i, k in enumerate(keys)}.values())
            fresh = self._encode_items([pieces[i] for i in unique], max_tokens)
            row_of = {keys[i]: k for k, i in enumerate(unique)}
            embeddings = fresh[[row_of[k] for k in keys]] if keys else fresh
            embeddings.flags.writeable = False  # shared between the models that ask for the same call
            self.recent_calls[call] = embeddings
            while len(self.recent_calls) > 1 and sum(len(e) for e in self.recent_calls.values()) > RECENT_ITEMS:
                self.recent_calls.popitem(last=False)
        self.recent_calls.move_to_end(call)
        return self.recent_calls[call]

    def _encode_items(self, pieces: list[str], max_tokens: int) -> np.ndarray:
        if not pieces:
            return np.zeros((0, self.dim), np.float32)
        tok = self.tokenizer(pieces, truncation=True, max_length=max_tokens)
        return self.embed_windows(tok["input_ids"], progress=len(pieces) > 500)

    def windows(self, text: str) -> list[list[int]]:
        ids = self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        body = self.config.max_length - 2
        step = body - self.config.stride
        starts = list(range(0, max(len(ids) - self.config.stride, 1), step)) or [0]
        if len(starts) > self.config.max_windows:  # evenly spread, first and last kept
            self.capped += 1
            keep = np.linspace(0, len(starts) - 1, self.config.max_windows).round().astype(int)
            starts = [starts[k] for k in sorted(set(keep.tolist()))]
        cls, sep = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        return [[cls, *ids[s : s + body], sep] for s in starts]

    def windows_of(self, texts: list[str]) -> tuple[list[list[int]], np.ndarray]:
        """Every text's windows in order, and the index of the text each window came from."""
        pairs = [(window, i) for i, text in enumerate(texts) for window in self.windows(text)]
        return [w for w, _ in pairs], np.asarray([i for _, i in pairs], dtype=int)

    @torch.inference_mode()
    def embed_windows(
        self, windows: list[list[int]], progress: bool = False, model: nn.Module | None = None
    ) -> np.ndarray:
        """Token windows → embeddings through this encoder's model, or through `model` (a tuned copy)."""
        from tqdm import tqdm

        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        order = np.argsort([len(w) for w in windows], kind="stable")  # length-sorted: little padding
        batches = range(0, len(order), self.config.batch_size)
        for start in tqdm(batches, desc="encode", unit="batch", disable=not progress or None, leave=False):
            idx = order[start : start + self.config.batch_size]
            out[idx] = self.embed(model or self.model, [windows[i] for i in idx]).float().cpu().numpy()
        return out

    def embed(self, model: nn.Module, windows: list[list[int]]) -> torch.Tensor:
        """One padded batch of windows → L2-normalised mean-pooled embeddings (differentiable, so
        fine-tuning in `pipelines.research.finetune_search` shares it)."""
        longest = max(len(w) for w in windows)
        ids = torch.full((len(windows), longest), self.tokenizer.pad_token_id or 0, dtype=torch.long)
        mask = torch.zeros((len(windows), longest), dtype=torch.long)
        for row, window in enumerate(windows):
            ids[row, : len(window)] = torch.tensor(window)
            mask[row, : len(window)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return nn.functional.normalize(pooled, dim=-1)

    def encode(self, texts: list[str], progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(window embeddings, owner index of each window), from the cache where `keep_cache` is on."""
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in self._cache]
        windows, owners = self.windows_of([texts[i] for i in todo])
        fresh = self.embed_windows(windows, progress) if windows else np.zeros((0, self.dim), np.float32)
        found = {i: fresh[owners == k] for k, i in enumerate(todo)}
        if self.keep_cache:
            self._cache.update({keys[i]: found[i] for i in todo})
        parts = [found[i] if i in found else self._cache[k] for i, k in enumerate(keys)]
        owner = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)]) if parts else np.zeros(0, int)
        return (np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)), owner


def aggregate(window_proba: np.ndarray, owner: np.ndarray, n_docs: int, how: str) -> np.ndarray:
    """Window probabilities → one row per document. `owner` is sorted (windows come in document
    order) and every document has at least one window."""
    starts = np.searchsorted(owner, np.arange(n_docs))
    if how == "max":
        return np.maximum.reduceat(window_proba, starts, axis=0)
    return np.add.reduceat(window_proba, starts, axis=0) / np.bincount(owner, minlength=n_docs)[:, None]


def save_encoder_and_head(directory: Path, encoder: WindowEncoder, head: nn.Linear, head_file: str = HEAD_FILE) -> None:
    """The encoder kinds' weights: the head as safetensors, the fp32 encoder and tokenizer beside it."""
    save_file({k: v.contiguous() for k, v in head.state_dict().items()}, str(directory / head_file))
    encoder.fp32_model.save_pretrained(directory / ENCODER_DIR, safe_serialization=True)
    encoder.tokenizer.save_pretrained(directory / ENCODER_DIR)


def shared_encoder(model_dir: Path, config: TransformerConfig) -> WindowEncoder:
    """The encoder of a saved model, loaded once per process for identical weights and settings.

    Why: the champion's two tasks each carry a frozen copy of the same MiniLM. Loading it twice cost
    ~1.5 s and 90 MB, and a review's items were embedded once per task; one shared encoder (with its
    item cache) halves both. Weights are compared by content digest, so a fine-tuned or different
    encoder is never mistaken for another; nothing here trains an encoder loaded this way."""
    weights = sorted(model_dir.glob("*.safetensors"))
    digest = hashlib.sha256()
    for path in weights:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
    if not weights:  # a torch .bin checkpoint from elsewhere: not shared, never guessed equal
        return WindowEncoder(str(model_dir), config)
    key = (digest.hexdigest(), *(getattr(config, name) for name in ENCODING_SETTINGS))
    encoder = _LOADED.get(key)
    if encoder is None:
        encoder = WindowEncoder(str(model_dir), config)
        _LOADED[key] = encoder
    return encoder


def forget_recent_embeddings() -> None:
    """Drop the tagging calls every loaded encoder keeps: a benchmark times encoding, not the cache."""
    for encoder in list(_LOADED.values()):
        encoder.recent_calls.clear()


def load_encoder_and_head(
    directory: Path, config: TransformerConfig, n_labels: int, head_file: str = HEAD_FILE
) -> tuple[WindowEncoder, nn.Linear]:
    encoder = shared_encoder(directory / ENCODER_DIR, config)
    head = nn.Linear(encoder.dim, n_labels)
    head.load_state_dict(load_file(str(directory / head_file)))
    return encoder, head.eval()


class TransformerClassifier(ReviewClassifier):
    kind = "transformer"

    def __init__(self, task: str, labels: list[str], params: dict | None = None, encoder: WindowEncoder | None = None):
        config = TransformerConfig(**(params or {}))
        config.base_model = config.base_model or default_base_model()
        super().__init__(task, labels, asdict(config))
        self.config = config
        self.encoder = encoder or WindowEncoder(config.base_model, config)
        self.head = nn.Linear(self.encoder.dim, len(self.labels))

    def fresh(self) -> TransformerClassifier:
        """An unfitted twin sharing the encoder and its cache (for cross-validation)."""
        return TransformerClassifier(self.meta.task, self.labels, asdict(self.config), encoder=self.encoder)

    def _doc_proba(self, emb: np.ndarray, owner: np.ndarray, n_docs: int) -> np.ndarray:
        with torch.inference_mode():
            proba = torch.sigmoid(self.head(torch.from_numpy(emb))).double().numpy()
        return aggregate(proba, owner, n_docs, self.config.aggregation)

    def fit(self, texts: list[str], y: np.ndarray, validation: tuple[list[str], np.ndarray] | None = None):
        cfg = self.config
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        self.encoder.keep_cache = True
        emb, owner = self.encoder.encode(texts, progress=True)
        x = torch.from_numpy(emb)
        target = torch.from_numpy(np.asarray(y, dtype=np.float32)[owner])
        positives = target.sum(0)
        pos_weight = ((len(target) - positives) / positives.clamp(min=1)).clamp(max=cfg.max_pos_weight)
        loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
        val = None
        if validation is not None and len(validation[0]):
            v_emb, v_owner = self.encoder.encode(validation[0])
            val = (v_emb, v_owner, np.asarray(validation[1], dtype=float))
        self.head = nn.Linear(self.encoder.dim, len(self.labels))
        optimizer = torch.optim.AdamW(self.head.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        steps_per_epoch = max(1, -(-len(x) // cfg.batch_size))
        total = steps_per_epoch * cfg.epochs
        warmup = int(total * cfg.warmup_ratio)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer,
            lambda s: (s + 1) / max(1, warmup) if s < warmup else max(0.0, (total - s) / max(1, total - warmup)),
        )
        best_loss, best_state, best_epoch, stale = float("inf"), None, 0, 0
        for epoch in range(cfg.epochs):
            self.head.train()
            for batch in torch.randperm(len(x), generator=generator).split(cfg.batch_size):
                optimizer.zero_grad()
                loss_fn(self.head(x[batch]), target[batch]).backward()
                optimizer.step()
                schedule.step()
            if val is None:
                continue
            self.head.eval()
            proba = np.clip(self._doc_proba(val[0], val[1], len(val[2])), 1e-6, 1 - 1e-6)
            truth = val[2]
            val_loss = float(-(truth * np.log(proba) + (1 - truth) * np.log(1 - proba)).mean())
            if val_loss < best_loss - 1e-5:
                best_loss, best_epoch, stale = val_loss, epoch + 1, 0
                best_state = {k: v.detach().clone() for k, v in self.head.state_dict().items()}
            else:
                stale += 1
                if stale >= cfg.patience:
                    break
        if best_state is not None:
            self.head.load_state_dict(best_state)
        self.head.eval()
        self.meta.extra |= {
            "best_epoch": best_epoch,
            "best_val_loss": round(best_loss, 4),
            "windows_capped": self.encoder.capped,
        }
        return self

    def predict_proba(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, len(self.labels)))
        emb, owner = self.encoder.encode(list(texts), progress=progress)
        return self._doc_proba(emb, owner, len(texts))

    def _save_weights(self, directory: Path) -> None:
        save_encoder_and_head(directory, self.encoder, self.head)

    def _load_weights(self, directory: Path) -> None:
        self.config = TransformerConfig(**self.meta.params)
        self.encoder, self.head = load_encoder_and_head(directory, self.config, len(self.labels))
