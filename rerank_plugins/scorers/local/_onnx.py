"""The ONNX Runtime path of :class:`~rerank_plugins.CrossEncoderScorer`: export, quantise, run.

The loaded PyTorch model is exported once with ``torch.onnx.export`` (offline: it needs only the
weights already in memory), optionally quantised with ONNX Runtime's dynamic int8 quantisation
(int8 weights, activations quantised per pass; fast on CPUs with VNNI), and kept on disk under
``<cache folder>/onnx/<key>/``. The key hashes the weights, the model's configuration and every
export option, so a changed model or option never reuses a stale file, and a second process (or a
second scorer) loads the file instead of exporting again. Files are written to a temporary name
and renamed, so concurrent processes never see half a file.

Why not ``optimum``: it adds a heavy dependency pinned to particular ``transformers`` releases; the
exporter and quantiser it wraps (``torch.onnx`` and ``onnxruntime.quantization``) are all this
path needs, and ONNX Runtime fuses attention, GELU and layer norms itself when it loads the graph.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from rerank_plugins._cache import cache_dir
from rerank_plugins._optional import require
from rerank_plugins.scorers.local._batching import input_names
from rerank_plugins.scorers.local._hardware import default_threads

__all__ = [
    "EXPORT_VERSION",
    "OnnxModel",
    "default_threads",
    "export_key",
    "exported_model",
    "weights_digest",
]

EXPORT_VERSION = 1
"""Bumped when the exported graph changes; part of every cache key."""
OPSET = 17
QUANTIZATION: dict[str, str | bool] = {
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": False,
}
"""Dynamic quantisation settings: signed int8 weights with one scale per output channel (about a
third of the per-tensor error, at the same speed here), unsigned activations (U8S8, the VNNI path
of ONNX Runtime's integer GEMM)."""

WHO = "CrossEncoderScorer(runtime='onnx')"


def weights_digest(model: Any) -> str:
    """A hex digest of the model's weights and configuration (what an export depends on)."""
    torch = require("torch", extra="fast", who=WHO)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(model.config.to_json_string(use_diff=False).encode())
    with torch.no_grad():
        for name, tensor in sorted(model.state_dict().items()):
            digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
            flat = tensor.detach().to("cpu").contiguous().reshape(-1)
            if flat.numel():
                digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def export_key(weights: str, *, quantized: bool) -> str:
    """The cache key of one export: the weights' digest and every export option."""
    ort = require("onnxruntime", extra="fast", who=WHO)
    options = {
        "weights": weights,
        "export_version": EXPORT_VERSION,
        "opset": OPSET,
        "quantization": QUANTIZATION if quantized else None,
        "onnxruntime": ".".join(ort.__version__.split(".")[:2]),
    }
    text = json.dumps(options, sort_keys=True)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def exported_model(
    model: Any, *, quantized: bool, folder: str | os.PathLike[str] | None = None
) -> Path:
    """Path of the ONNX file for ``model`` (a ``transformers`` model), exporting it if needed.

    Args:
        model: The loaded sequence-classification model (``CrossEncoder.model``).
        quantized: Dynamic int8 quantisation on top of the fp32 export.
        folder: Cache folder (default: :func:`rerank_plugins._cache.cache_dir`).
    """
    root = cache_dir(folder) / "onnx"
    weights = weights_digest(model)
    fp32 = root / export_key(weights, quantized=False) / "model.onnx"
    if not fp32.exists():
        _export(model, fp32)
    if not quantized:
        return fp32
    int8 = root / export_key(weights, quantized=True) / "model-int8.onnx"
    if not int8.exists():
        _quantize(fp32, int8)
    return int8


def _atomic_target(final: Path) -> Path:
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=final.name + ".", suffix=".tmp", dir=final.parent)
    os.close(fd)
    return Path(tmp)


def _export(model: Any, target: Path) -> None:
    torch = require("torch", extra="fast", who=WHO)
    require("onnx", extra="fast", who=WHO)
    names = input_names(model)
    # Export a copy: the exporter toggles train/eval modes, and eager attention gives the graph
    # pattern ONNX Runtime's attention fusion recognises (numerically the same as SDPA).
    clone = copy.deepcopy(model).to("cpu").eval()
    if hasattr(clone, "set_attn_implementation"):
        # The model's default attention exports too, where eager is not offered.
        with contextlib.suppress(ValueError, AttributeError, NotImplementedError):
            clone.set_attn_implementation("eager")

    class Logits(torch.nn.Module):  # type: ignore[misc, name-defined]
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *inputs: Any) -> Any:
            return self.inner(**dict(zip(names, inputs, strict=True))).logits

    sample = torch.ones((2, 8), dtype=torch.long)
    args = tuple(sample if n != "token_type_ids" else torch.zeros_like(sample) for n in names)
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["logits"] = {0: "batch"}
    tmp = _atomic_target(target)
    try:
        with torch.no_grad():
            torch.onnx.export(
                Logits(clone).eval(),
                args,
                str(tmp),
                input_names=names,
                output_names=["logits"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _quantize(source: Path, target: Path) -> None:
    require("onnx", extra="fast", who=WHO)
    quantization = require("onnxruntime.quantization", extra="fast", who=WHO)
    tmp = _atomic_target(target)
    root = logging.getLogger()
    root.addFilter(_quiet_preprocessing_hint)
    try:
        quantization.quantize_dynamic(
            str(source),
            str(tmp),
            weight_type=getattr(quantization.QuantType, str(QUANTIZATION["weight_type"])),
            per_channel=bool(QUANTIZATION["per_channel"]),
            reduce_range=bool(QUANTIZATION["reduce_range"]),
        )
        os.replace(tmp, target)
    finally:
        root.removeFilter(_quiet_preprocessing_hint)
        tmp.unlink(missing_ok=True)


def _quiet_preprocessing_hint(record: logging.LogRecord) -> bool:
    """Drop the quantiser's advice to pre-process the graph (shape inference): it matters for
    static quantisation, not for the dynamic kind used here, and would reach users' logs."""
    return not str(record.msg).startswith("Please consider to run pre-processing")


class OnnxModel:
    """An ONNX Runtime session over an exported cross-encoder, on the CPU.

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads (default: :func:`default_threads`).
    """

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        ort = require("onnxruntime", extra="fast", who=WHO)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # Worker threads that spin while waiting for work steal the CPU from everything else and
        # collapse when cores are shared (a busy server, a container quota, concurrent passes):
        # measured here, 2 spinning threads ran 2-3x slower than 2 sleeping ones under load.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]

    def __call__(self, arrays: dict[str, Any]) -> Any:
        """Logits ``(pairs, labels)`` for one padded pass."""
        feed = {name: arrays[name] for name in self.input_names}
        return self.session.run(["logits"], feed)[0]
