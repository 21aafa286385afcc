"""The frozen encoder in PyTorch (SetFit's "body"): a local Hugging Face model and its tokenizer,
used for training (and research that tunes a copy), and for tagging where no ONNX export is present.

Why frozen: with ~250 training reviews, full fine-tuning of MiniLM on 2 cores predicted almost nothing
for many epochs, while frozen embeddings are stable, cheap to cache and fast to cross-validate
(`research.finetune_search` measures the alternative). Long documents are never truncated to their
first window: every window is embedded, and the heads pool window scores (`linear.pool`).

Everything but the forward pass (windows, items, batching, caches) is shared with the ONNX encoder in
`encoding.EncoderBase`. Saving a freshly built encoder also exports its forward pass, with the
pooling, to `model.onnx` (`export_onnx`), which tagging runs without torch.
"""

from __future__ import annotations

import logging
import shutil
import warnings
import weakref
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pipelines.config import EncoderConfig
from pipelines.modeling.encoding import (
    ENCODER_DIR,
    ONNX_FILE,
    OUTPUT_SETTINGS,
    EmbeddingCache,
    EncoderBase,
    config_from_saved,
    digest,
    encoder_settings,
    forget_recent_embeddings,
    shared,
    weights_digest,
)

__all__ = [
    "EmbeddingCache",
    "FrozenEncoder",
    "config_from_saved",
    "digest",
    "encoder_settings",
    "export_onnx",
    "forget_recent_embeddings",
    "quantized",
    "save_encoder",
    "shared_encoder",
]
log = logging.getLogger(__name__)
_LOADED: weakref.WeakValueDictionary[tuple, FrozenEncoder] = weakref.WeakValueDictionary()
ONNX_OPSET = 17


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
        raise ValueError(f"num_layers needs a BERT-style encoder; {type(model).__name__} has none")
    if keep < len(layers):
        model.encoder.layer = layers[:keep]
        model.config.num_hidden_layers = keep


def quantized(model: nn.Module) -> nn.Module:
    """A dynamically int8-quantised copy of the model's linear layers (CPU), as the encoder runs it
    with `quantize_int8` (research that tunes a copy quantises it the same way)."""
    with warnings.catch_warnings():  # torch flags its quantised-tensor constructors as deprecated
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


class MeanPooled(nn.Module):
    """The encoder's whole forward pass: hidden states mean-pooled over the attention mask and
    L2-normalised (differentiable, so fine-tuning research shares it; exported as one ONNX graph)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask[..., None].to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / attention_mask.sum(1, keepdim=True).clamp(min=1).to(hidden.dtype)
        return nn.functional.normalize(pooled, dim=-1)


class FrozenEncoder(EncoderBase):
    """The PyTorch backend: transformers' tokenizer and model."""

    backend = "torch"

    def __init__(self, model_dir: str, config: EncoderConfig):
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        super().__init__(config)
        hf_logging.disable_progress_bar()
        self.model_dir = model_dir
        if config.num_threads > 0:
            torch.set_num_threads(config.num_threads)
        self.device = pick_device(config.device)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.fp32_model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
        if config.num_layers:
            keep_first_layers(self.fp32_model, config.num_layers)
        int8 = config.quantize_int8 and self.device.type == "cpu"
        self.model = quantized(self.fp32_model) if int8 else self.fp32_model
        self.model.to(self.device)
        self.dim = int(self.fp32_model.config.hidden_size)
        self.cls_id, self.sep_id = self.tokenizer.cls_token_id, self.tokenizer.sep_token_id
        self.pad_id = self.tokenizer.pad_token_id or 0

    def token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]

    def item_token_ids(self, pieces: list[str], max_tokens: int) -> list[list[int]]:
        return self.tokenizer(pieces, truncation=True, max_length=max_tokens)["input_ids"]

    def encode_items(self, pieces: list[str], max_tokens: int, model: nn.Module | None = None) -> np.ndarray:
        """As `EncoderBase.encode_items`, through this encoder's model or `model` (a tuned copy)."""
        if model is None or not pieces:
            return super().encode_items(pieces, max_tokens)
        return self.embed_windows(self.item_token_ids(pieces, max_tokens), progress=len(pieces) > 500, model=model)

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return self.embed(self.model, ids, mask).float().cpu().numpy()

    def embed_windows(
        self, windows: list[list[int]], progress: bool = False, model: nn.Module | None = None
    ) -> np.ndarray:
        """Token windows → embeddings through this encoder's model, or through `model` (a tuned copy)."""
        if model is None:
            return super().embed_windows(windows, progress)
        original, self.model = self.model, model
        try:
            return super().embed_windows(windows, progress)
        finally:
            self.model = original

    def embed(self, model: nn.Module, ids, mask) -> torch.Tensor:
        """One padded batch → L2-normalised mean-pooled embeddings (differentiable, so the fine-tuning
        research shares it). `ids` and `mask` are arrays or tensors, or `ids` a list of windows."""
        if isinstance(ids, list):  # research passes windows
            from pipelines.modeling.encoding import padded

            ids, mask = padded(ids, self.pad_id)
        ids = torch.as_tensor(ids, dtype=torch.long).to(self.device)
        mask = torch.as_tensor(mask, dtype=torch.long).to(self.device)
        return MeanPooled(model)(ids, mask)


def shared_encoder(model_dir: Path, config: EncoderConfig) -> FrozenEncoder:
    """The encoder of a saved model, loaded once per process for identical weights and output settings.

    Why: the champion's two tasks each carry a frozen copy of the same MiniLM. Loading it twice cost
    ~1.5 s and 90 MB, and a review's items were embedded once per task; one shared encoder (with its
    recent calls) halves both. Weights are compared by content digest, so a fine-tuned or different
    encoder is never mistaken for another; nothing trains an encoder loaded this way, and an encoder
    being trained is never shared (kinds create their own)."""
    weights = weights_digest(model_dir)
    if weights is None:  # a torch .bin checkpoint from elsewhere: not shared, never guessed equal
        return FrozenEncoder(str(model_dir), config)
    key = (weights, *(getattr(config, name) for name in OUTPUT_SETTINGS))
    return shared(_LOADED, key, lambda: FrozenEncoder(str(model_dir), config))


def export_onnx(model_dir: Path, path: Path) -> None:
    """The fp32 forward pass of the saved encoder in `model_dir`, with its pooling, as one ONNX graph
    (batch and length dynamic), for onnxruntime. Exported from the saved files with eager attention:
    the traced graph of PyTorch's fused attention ran ~25% slower under onnxruntime on 2 cores, and the
    outputs agree to 1e-7. The TorchScript exporter traces BERT without extra dependencies."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(model_dir, local_files_only=True, attn_implementation="eager").eval()
    example = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
    with warnings.catch_warnings():  # the tracer's notes on BERT's shape checks and the legacy exporter
        warnings.simplefilter("ignore")
        torch.onnx.export(
            MeanPooled(model),
            example,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )


def save_encoder(directory: Path, encoder: EncoderBase) -> None:
    """The encoder in `directory/encoder`: fp32 weights (safetensors), tokenizer, and the ONNX export.
    An encoder loaded from a saved model (an ensemble copying its members) is copied file for file, so
    a copy is byte-identical to its source."""
    target = directory / ENCODER_DIR
    source = Path(getattr(encoder, "model_dir", ""))
    if (source / ONNX_FILE).is_file() and source.name == ENCODER_DIR:
        shutil.copytree(source, target, dirs_exist_ok=True)
        return
    if not isinstance(encoder, FrozenEncoder):
        raise ValueError(f"cannot save an encoder loaded from {source} without its files")
    encoder.fp32_model.save_pretrained(target, safe_serialization=True)
    encoder.tokenizer.save_pretrained(target)
    export_onnx(target, target / ONNX_FILE)
