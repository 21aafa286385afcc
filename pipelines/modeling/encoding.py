"""What a frozen encoder does apart from its forward pass: token windows of a document, items of a
document, batching by length, the caches, and choosing the backend that runs the forward pass.

Two backends share this code, so they read a document identically and differ only in the forward
pass: `encoders.FrozenEncoder` (PyTorch + transformers; training, and the fallback) and
`onnx_encoder.OnnxEncoder` (onnxruntime + tokenizers; the default for tagging where the model
directory holds the exported `model.onnx`). This module imports neither torch nor onnxruntime.

Why caching is explicit:
- training: an `EmbeddingCache` that a model creates when it is fitted and hands to its
  cross-validation twins (`fresh()`), so fit, early stopping, threshold tuning and every fold encode
  each text or item once;
- tagging: no text or item is ever reused on its own. Each encoder keeps its last few whole calls
  (`recent_calls`, bounded), which never changes an output (see `EncoderBase.embed_items`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import weakref
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pipelines.config import EncoderConfig
from pipelines.items import item_spans

log = logging.getLogger(__name__)
Span = tuple[int, int]
C = TypeVar("C")
ENCODER_DIR = "encoder"
ONNX_FILE = "model.onnx"  # the exported forward pass with mean pooling and L2 normalisation
RECENT_ROWS = 20_000  # embeddings kept from recent tagging calls (~30 MB): a listing's or a report's items
# EncoderConfig fields that change what an encoder outputs (batch_size: padding, and int8's per-batch
# scales). Not num_threads, seed or backend: the backends agree to 1e-6 (tests/test_backends.py).
OUTPUT_SETTINGS = ("num_layers", "max_length", "batch_size", "quantize_int8", "device")
# Every loaded encoder, whatever its backend: a benchmark drops their recent calls between repeats.
LOADED: weakref.WeakSet[EncoderBase] = weakref.WeakSet()


def digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def encoder_settings(config: EncoderConfig) -> EncoderConfig:
    """Only the encoder's own settings of a kind's config: an encoder shared by two kinds must never
    read one kind's head or window settings."""
    return EncoderConfig(**{f.name: getattr(config, f.name) for f in dataclasses.fields(EncoderConfig)})


def config_from_saved(cls: type[C], params: dict[str, Any]) -> C:
    """A saved model's config. Keys the config no longer has (an older model, e.g. quoted_items saved
    with the items kind's training settings, which never changed its scores) are dropped with a warning
    rather than making the model unloadable."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    dropped = sorted(set(params) - names)
    if dropped:
        log.warning("%s: ignoring saved settings it no longer has: %s", cls.__name__, ", ".join(dropped))
    return cls(**{k: v for k, v in params.items() if k in names})


def _joined(parts: list[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-text window embeddings → (all of them, in text order; the text each row belongs to)."""
    if not parts:
        return np.zeros((0, dim), np.float32), np.zeros(0, int)
    return np.concatenate(parts), np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])


class EmbeddingCache:
    """Embeddings by what was encoded (windows or items, their settings, a digest of the text), for one
    training run: the model being fitted and its cross-validation twins. Bound to the first encoder that
    uses it, since another encoder's embedding of the same text differs."""

    def __init__(self) -> None:
        self.encoder: EncoderBase | None = None
        self._rows: dict[tuple, np.ndarray] = {}

    def bind(self, encoder: EncoderBase) -> None:
        if self.encoder is None:
            self.encoder = encoder
        elif self.encoder is not encoder:
            raise ValueError("an EmbeddingCache holds one encoder's embeddings; this is another encoder")

    def __contains__(self, key: tuple) -> bool:
        return key in self._rows

    def __getitem__(self, key: tuple) -> np.ndarray:
        return self._rows[key]

    def __len__(self) -> int:
        return len(self._rows)

    def update(self, rows: dict[tuple, np.ndarray]) -> None:
        self._rows.update(rows)


class EncoderBase(ABC):
    """Token windows or short texts → L2-normalised mean-pooled embeddings; never trained here.
    Subclasses give the tokenizer's ids and the batched forward pass."""

    config: EncoderConfig
    dim: int
    cls_id: int
    sep_id: int
    pad_id: int
    backend: str

    def __init__(self, config: EncoderConfig) -> None:
        self.config = encoder_settings(config)
        self.capped = 0  # documents whose windows were capped at max_windows, since creation
        # Tagging: the outputs of the last few calls, by (what, settings, digest of all the call's inputs).
        self.recent_calls: OrderedDict[tuple, tuple[np.ndarray, ...]] = OrderedDict()
        LOADED.add(self)

    @abstractmethod
    def token_ids(self, text: str) -> list[int]:
        """The text's token ids, no special tokens, no truncation."""

    @abstractmethod
    def item_token_ids(self, pieces: list[str], max_tokens: int) -> list[list[int]]:
        """Each piece's token ids with the special tokens, truncated to `max_tokens`."""

    @abstractmethod
    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """One padded batch (int64 ids and attention mask) → float32 L2-normalised mean-pooled embeddings."""

    # --- windows of documents ------------------------------------------------------------------
    def windows(self, text: str, stride: int, max_windows: int) -> list[list[int]]:
        """Overlapping windows of `max_length` tokens sharing `stride` tokens, special tokens included;
        beyond `max_windows`, evenly spread with the first and last kept (and counted in `capped`)."""
        ids = self.token_ids(text)
        body = self.config.max_length - 2
        step = body - stride
        starts = list(range(0, max(len(ids) - stride, 1), step)) or [0]
        if len(starts) > max_windows:
            self.capped += 1
            keep = np.linspace(0, len(starts) - 1, max_windows).round().astype(int)
            starts = [starts[k] for k in sorted(set(keep.tolist()))]
        return [[self.cls_id, *ids[s : s + body], self.sep_id] for s in starts]

    def windows_of(self, texts: list[str], stride: int, max_windows: int) -> tuple[list[list[int]], np.ndarray]:
        """Every text's windows in order, and the index of the text each window came from."""
        pairs = [(window, i) for i, text in enumerate(texts) for window in self.windows(text, stride, max_windows)]
        return [w for w, _ in pairs], np.asarray([i for _, i in pairs], dtype=int)

    def encode_windows(
        self,
        texts: list[str],
        stride: int,
        max_windows: int,
        cache: EmbeddingCache | None = None,
        progress: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(window embeddings, the text each window belongs to), texts in order. With a training
        `cache`, each text is encoded once; without one, only a whole identical call is reused."""
        if cache is None:
            call = ("windows", stride, max_windows, digest("\0".join(digest(t) for t in texts)))
            return self._recent(call, lambda: self._fresh_windows(texts, stride, max_windows, progress))
        cache.bind(self)
        keys = [("windows", stride, max_windows, digest(t)) for t in texts]
        todo = [i for i, k in enumerate(keys) if k not in cache]
        fresh, owners = self._fresh_windows([texts[i] for i in todo], stride, max_windows, progress)
        found = {i: fresh[owners == k] for k, i in enumerate(todo)}
        cache.update({keys[i]: found[i] for i in todo})
        return _joined([found[i] if i in found else cache[k] for i, k in enumerate(keys)], self.dim)

    def _fresh_windows(
        self, texts: list[str], stride: int, max_windows: int, progress: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        windows, owners = self.windows_of(texts, stride, max_windows)
        return (self.embed_windows(windows, progress) if windows else np.zeros((0, self.dim), np.float32)), owners

    # --- items of documents --------------------------------------------------------------------
    def document_items(
        self, texts: list[str], max_items: int, max_tokens: int, cache: EmbeddingCache | None = None
    ) -> tuple[list[list[Span]], np.ndarray, np.ndarray]:
        """Each text's items (`pipelines.items.item_spans`; a text without any is one item), the item
        embeddings in text order, and the text each item belongs to."""
        spans = [item_spans(t, max_items) or [(0, len(t))] for t in texts]
        pieces = [t[a:b] for t, found in zip(texts, spans, strict=True) for a, b in found]
        owner = np.concatenate([np.full(len(found), i) for i, found in enumerate(spans)]) if spans else np.zeros(0, int)
        return spans, self.embed_items(pieces, max_tokens, cache), owner

    def embed_items(self, pieces: list[str], max_tokens: int, cache: EmbeddingCache | None = None) -> np.ndarray:
        """Short texts (list items, sentences) → embeddings, each truncated to `max_tokens`.

        Why whole calls are reused while tagging, never single items: int8 activations are scaled per
        batch, so an item's embedding shifts slightly with its batch-mates. Reusing items from another
        call would make a review's scores depend on what was tagged before it. A call with exactly the
        same items (the other task's model on the same reviews) gets exactly the same embeddings, so the
        champion's two tasks embed a report once and every output equals an uncached run. Training
        (`cache`) encodes each distinct item once, as every fit, tune and fold then sees the same rows."""
        keys = [digest(p) for p in pieces]
        if cache is None:
            call = ("items", max_tokens, digest("\0".join(keys)))
            return self._recent(call, lambda: (self._fresh_unique_items(pieces, keys, max_tokens),))[0]
        cache.bind(self)
        item_keys = [("items", max_tokens, k) for k in keys]
        todo = sorted({k: i for i, k in enumerate(item_keys) if k not in cache}.values())
        if todo:
            fresh = self.encode_items([pieces[i] for i in todo], max_tokens)
            cache.update({item_keys[i]: fresh[n] for n, i in enumerate(todo)})
        return np.stack([cache[k] for k in item_keys]) if item_keys else np.zeros((0, self.dim), np.float32)

    def _fresh_unique_items(self, pieces: list[str], keys: list[str], max_tokens: int) -> np.ndarray:
        """One call's items, each distinct item encoded once (in the call's own batches)."""
        unique = sorted({k: i for i, k in enumerate(keys)}.values())
        fresh = self.encode_items([pieces[i] for i in unique], max_tokens)
        row_of = {keys[i]: n for n, i in enumerate(unique)}
        return fresh[[row_of[k] for k in keys]] if keys else fresh

    def encode_items(self, pieces: list[str], max_tokens: int) -> np.ndarray:
        """Every piece encoded, in one call's length-sorted batches; no cache of any kind."""
        if not pieces:
            return np.zeros((0, self.dim), np.float32)
        return self.embed_windows(self.item_token_ids(pieces, max_tokens), progress=len(pieces) > 500)

    def _recent(self, call: tuple, compute: Callable[[], tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
        """A tagging call's outputs, from the last few identical calls where there is one (read-only:
        the models that ask for the same call share them)."""
        found = self.recent_calls.get(call)
        if found is None:
            found = compute()
            for array in found:
                array.flags.writeable = False
            self.recent_calls[call] = found
            while len(self.recent_calls) > 1 and sum(len(v[0]) for v in self.recent_calls.values()) > RECENT_ROWS:
                self.recent_calls.popitem(last=False)
        self.recent_calls.move_to_end(call)
        return found

    # --- the forward pass, batched -------------------------------------------------------------
    def embed_windows(self, windows: list[list[int]], progress: bool = False) -> np.ndarray:
        """Token windows → embeddings, in length-sorted batches of `batch_size` (little padding)."""
        from tqdm import tqdm

        out = np.zeros((len(windows), self.dim), dtype=np.float32)
        order = np.argsort([len(w) for w in windows], kind="stable")
        batches = range(0, len(order), self.config.batch_size)
        for start in tqdm(batches, desc="encode", unit="batch", disable=not progress or None, leave=False):
            idx = order[start : start + self.config.batch_size]
            out[idx] = self.forward(*padded([windows[i] for i in idx], self.pad_id))
        return out


def padded(windows: list[list[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """One batch of windows as (ids, attention mask), padded to the longest with `pad_id`."""
    longest = max(len(w) for w in windows)
    ids = np.full((len(windows), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(windows), longest), dtype=np.int64)
    for row, window in enumerate(windows):
        ids[row, : len(window)] = window
        mask[row, : len(window)] = 1
    return ids, mask


def weights_digest(folder: Path, pattern: str = "*.safetensors") -> str | None:
    """Content digest of a saved encoder's weights (None where there are none to compare)."""
    weights = sorted(folder.glob(pattern))
    if not weights:
        return None
    found = hashlib.sha256()
    for path in weights:
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 22):
                found.update(chunk)
    return found.hexdigest()


def shared(loaded: weakref.WeakValueDictionary, key: tuple, build: Callable[[], EncoderBase]) -> EncoderBase:
    """The encoder `loaded` holds for `key`, built (and held) the first time: one per process."""
    encoder = loaded.get(key)
    if encoder is None:
        encoder = build()
        loaded[key] = encoder
    return encoder


def forget_recent_embeddings() -> None:
    """Drop the tagging calls every loaded encoder keeps: a benchmark times encoding, not the cache."""
    for encoder in list(LOADED):
        encoder.recent_calls.clear()
