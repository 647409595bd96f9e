"""The runtimes :class:`~rerank_plugins.CrossEncoderScorer` runs its forward passes on.

One entry per runtime in :data:`REGISTRY`: how to build its forward pass from the loaded model,
and the three facts the engine needs about it (CPU only, one pair per pass, one lane per core).
Adding a runtime is one entry here; nothing else branches on a runtime's name.

A forward pass (:data:`Forward`) takes a list of encoded pairs and returns one row of logits per
pair. Every runtime shares the same tokenizer, length bucketing and micro-batcher around it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from rerank_plugins._optional import require
from rerank_plugins.scorers.local._batching import EncodedPair, input_names, pad

__all__ = ["REGISTRY", "Forward", "RuntimeEntry", "RuntimeSettings", "padded_forward"]

Forward = Callable[[list[EncodedPair]], list[list[float]]]
"""One forward pass: encoded pairs in, one row of logits per pair out (thread-safe)."""


@dataclass(frozen=True)
class RuntimeSettings:
    """What building a runtime's forward pass may use besides the loaded model."""

    pad_id: int
    threads: int | None
    cache_dir: str | os.PathLike[str] | None


@dataclass(frozen=True)
class RuntimeEntry:
    """One runtime: ``build(encoder, settings)`` returns its :data:`Forward`.

    ``cpu_only``: it cannot run on an accelerator. ``one_pair_per_pass``: its scores would
    depend on a pass's other pairs otherwise (dynamic int8 scales activations per pass).
    ``lane_per_core``: concurrent callers may run passes on several threads at once (ONNX
    Runtime sessions; PyTorch and OpenVINO passes already use every core).
    """

    build: Callable[[Any, RuntimeSettings], Forward]
    cpu_only: bool = False
    one_pair_per_pass: bool = False
    lane_per_core: bool = False


def padded_forward(session: Callable[[dict[str, Any]], Any], pad_id: int) -> Forward:
    """A :data:`Forward` over ``session``, which takes one pass's padded arrays (by input name)
    and returns its logits as an array: an ONNX Runtime or OpenVINO model, or any other."""

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        rows: list[list[float]] = session(pad(pairs, pad_id)).tolist()
        return rows

    return forward


def _torch(encoder: Any, settings: RuntimeSettings, *, bf16: bool) -> Forward:
    torch = require("torch", extra="local", who="CrossEncoderScorer")
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    model = _bf16_copy(encoder.model) if bf16 else encoder.model.eval()
    names = input_names(model)
    device = encoder.device
    pad_id = settings.pad_id

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        arrays = pad(pairs, pad_id)
        features = {n: torch.from_numpy(arrays[n]).to(device) for n in names}
        with torch.inference_mode():
            logits = model(**features).logits
        rows: list[list[float]] = logits.float().cpu().tolist()
        return rows

    return forward


def _bf16_copy(model: Any) -> Any:
    """A bf16 copy of ``model`` whose classification head stays fp32.

    bf16 keeps 8 bits of mantissa: a logit near 5 would move in steps of 1/32, so two close
    passages would tie and a pair's score would flip a step with the shape of its pass. The head
    (a few thousand multiply-adds) runs in fp32 on the bf16 features, so scores stay continuous;
    everything else (all the matrix products) runs in bf16. The loaded fp32 model is left as it
    is (it is :attr:`CrossEncoderScorer.encoder`).
    """
    import copy

    import torch

    clone = copy.deepcopy(model).eval().to(torch.bfloat16)
    head = getattr(clone, "classifier", None)
    if isinstance(head, torch.nn.Module):
        head.float()

        def to_fp32(_module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(
                a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args
            )

        head.register_forward_pre_hook(to_fp32)
    return clone


def _onnx(encoder: Any, settings: RuntimeSettings, *, quantized: bool) -> Forward:
    from rerank_plugins.scorers.local import _onnx

    path = _onnx.exported_model(encoder.model, quantized=quantized, folder=settings.cache_dir)
    return padded_forward(_onnx.OnnxModel(path, threads=settings.threads), settings.pad_id)


def _openvino(encoder: Any, settings: RuntimeSettings, *, bf16: bool) -> Forward:
    from rerank_plugins.scorers.local import _onnx, _openvino

    path = _onnx.exported_model(encoder.model, quantized=False, folder=settings.cache_dir)
    model = _openvino.OpenVinoModel(path, bf16=bf16, threads=settings.threads)
    return padded_forward(model, settings.pad_id)


REGISTRY: dict[str, RuntimeEntry] = {
    "torch": RuntimeEntry(partial(_torch, bf16=False)),
    "torch-bf16": RuntimeEntry(partial(_torch, bf16=True)),
    "onnx": RuntimeEntry(partial(_onnx, quantized=False), cpu_only=True, lane_per_core=True),
    "onnx-int8": RuntimeEntry(
        partial(_onnx, quantized=True), cpu_only=True, one_pair_per_pass=True, lane_per_core=True
    ),
    "openvino": RuntimeEntry(partial(_openvino, bf16=False), cpu_only=True),
    "openvino-bf16": RuntimeEntry(partial(_openvino, bf16=True), cpu_only=True),
}
"""Every runtime by name, the reference (``"torch"``) first."""
