"""The ONNX backend of the frozen encoder: the exported forward pass (`model.onnx`, mean pooling and
L2 normalisation inside the graph) run by onnxruntime, tokenised by the `tokenizers` library from the
saved `tokenizer.json`. Neither torch nor transformers is imported, so tagging starts in a fraction of
the time; windows, items, batching and caches are `encoding.EncoderBase`'s, the same code as the
PyTorch encoder's, so both read a document identically (tests/test_backends.py: scores within 1e-6).
"""

from __future__ import annotations

import json
import weakref
from pathlib import Path

import numpy as np

from pipelines.config import EncoderConfig
from pipelines.modeling.encoding import ONNX_FILE, OUTPUT_SETTINGS, EncoderBase, shared, weights_digest

_LOADED: weakref.WeakValueDictionary[tuple, OnnxEncoder] = weakref.WeakValueDictionary()


def _special_token(folder: Path, name: str, default: str) -> str:
    """A special token's text from the saved tokenizer config (`cls_token`, ...)."""
    for file in ("tokenizer_config.json", "special_tokens_map.json"):
        path = folder / file
        if path.is_file():
            value = json.loads(path.read_text(encoding="utf-8")).get(name)
            if isinstance(value, dict):
                value = value.get("content")
            if value:
                return str(value)
    return default


class OnnxEncoder(EncoderBase):
    """onnxruntime + tokenizers; the default for tagging wherever the export exists."""

    backend = "onnx"

    def __init__(self, model_dir: str, config: EncoderConfig):
        import onnxruntime
        from tokenizers import Tokenizer

        super().__init__(config)
        if config.quantize_int8:
            raise ValueError("quantize_int8 is a PyTorch setting; the ONNX export is fp32")
        folder = Path(model_dir)
        self.model_dir = model_dir
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        ids = {name: _special_token(folder, name, default) for name, default in self._SPECIAL.items()}
        self.cls_id, self.sep_id, self.pad_id = (self.tokenizer.token_to_id(ids[n]) for n in self._SPECIAL)
        if None in (self.cls_id, self.sep_id, self.pad_id):
            raise ValueError(f"{folder}: tokenizer lacks one of {sorted(ids.values())}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(config.num_threads, 0)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        self.session = onnxruntime.InferenceSession(str(folder / ONNX_FILE), options, providers=providers)
        self.dim = int(self.session.get_outputs()[0].shape[-1])

    _SPECIAL = {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]"}

    def token_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text, add_special_tokens=False).ids

    def item_token_ids(self, pieces: list[str], max_tokens: int) -> list[list[int]]:
        self.tokenizer.enable_truncation(max_length=max_tokens)
        try:
            return [encoding.ids for encoding in self.tokenizer.encode_batch(pieces)]
        finally:
            self.tokenizer.no_truncation()

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0].astype(np.float32, copy=False)


def shared_onnx_encoder(model_dir: Path, config: EncoderConfig) -> OnnxEncoder:
    """One ONNX encoder per process for identical weights and output settings (the champion's two tasks
    carry the same MiniLM), compared by the digest of the exported graph."""
    weights = weights_digest(model_dir, ONNX_FILE)
    key = (weights, *(getattr(config, name) for name in OUTPUT_SETTINGS))
    return shared(_LOADED, key, lambda: OnnxEncoder(str(model_dir), config))
