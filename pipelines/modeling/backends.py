"""Which backend runs a saved model's encoder: the ONNX export (onnxruntime + tokenizers, no torch)
by default, PyTorch where asked or where the export is missing or will not load."""

from __future__ import annotations

import logging
from pathlib import Path

from pipelines.config import EncoderConfig
from pipelines.modeling.encoding import ENCODER_DIR, ONNX_FILE, EncoderBase

log = logging.getLogger(__name__)
_WARNED: set[str] = set()


def load_encoder(directory: Path, config: EncoderConfig, backend: str | None = None) -> EncoderBase:
    """The encoder of a saved model (`directory/encoder`), loaded once per process for identical
    weights and output settings, run by `backend` (default: the model's `backend` setting). ONNX
    needs `model.onnx` beside the weights; where it is missing or will not load, the PyTorch encoder
    answers instead, with one warning line (never a traceback), since both give the same scores."""
    folder = directory / ENCODER_DIR
    backend = backend or config.backend
    if backend == "onnx":
        onnx_file = folder / ONNX_FILE
        problem = "" if onnx_file.is_file() else "no exported model.onnx"
        if not problem:
            try:
                from pipelines.modeling.onnx_encoder import shared_onnx_encoder

                return shared_onnx_encoder(folder, config)
            except Exception as exc:  # onnxruntime missing, a corrupt file: torch still answers
                problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if str(folder) not in _WARNED:
            _WARNED.add(str(folder))
            log.warning("%s: ONNX encoder unavailable (%s); using the PyTorch encoder", folder, problem)
    from pipelines.modeling.encoders import shared_encoder  # torch

    return shared_encoder(folder, config)
