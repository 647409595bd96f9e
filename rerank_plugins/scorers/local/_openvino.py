"""The OpenVINO path of :class:`~rerank_plugins.CrossEncoderScorer`: fp32 or bf16, batched.

OpenVINO reads the ONNX file the ONNX path exports (same cache, same key: the weights and the
export options), compiles it for this CPU once per scorer (well under a second for a MiniLM) and
runs padded, length-bucketed passes like the PyTorch runtimes. With ``bf16=True`` the compiled
model does its matrix products in bf16 where the CPU has bf16 units (AMX-BF16 or AVX-512-BF16);
OpenVINO's CPU plugin fuses attention, GELU and layer norms into its own kernels, which is where
it gains over PyTorch's bf16 autocast on the same hardware (``benchmarks/bench_local.py``).

No activation quantisation happens per pass, so a pair's score does not depend on the pairs that
share its pass beyond the kernels' blocking (within 0.03 of a logit in bf16, 1e-4 in fp32).

Each thread that runs passes gets its own inference request (requests are not thread-safe; the
compiled model is).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._optional import require

__all__ = ["OpenVinoModel", "has_bf16"]

WHO = "CrossEncoderScorer(runtime='openvino')"


def _core() -> Any:
    ov = require("openvino", extra="fast", who=WHO)
    return ov.Core()


def has_bf16(core: Any | None = None) -> bool:
    """Whether OpenVINO's CPU plugin runs bf16 in hardware on this machine."""
    core = core or _core()
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoModel:
    """A compiled OpenVINO model over an exported cross-encoder, on the CPU.

    Args:
        path: The ``.onnx`` file (fp32, from
            :func:`rerank_plugins.scorers.local._onnx.exported_model`).
        bf16: Run the matrix products in bf16 (needs bf16 units; see :func:`has_bf16`).
        threads: Threads of one pass (default: OpenVINO's choice, the cores this process may use).
    """

    def __init__(self, path: Path, *, bf16: bool, threads: int | None = None) -> None:
        core = _core()
        if bf16 and not has_bf16(core):
            raise ConfigurationError(
                "CrossEncoderScorer(runtime='openvino-bf16') needs a CPU with bf16 units "
                "(AMX-BF16 or AVX-512-BF16); this one has none. Use runtime='auto' (it picks "
                "what this machine runs fastest), 'openvino' or 'torch'."
            )
        config: dict[str, Any] = {
            "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
            "PERFORMANCE_HINT": "LATENCY",
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = threads
        self.path = path
        self.bf16 = bf16
        self.compiled = core.compile_model(core.read_model(str(path)), "CPU", config)
        self.input_names = [port.get_any_name() for port in self.compiled.inputs]
        self._local = threading.local()

    def __call__(self, arrays: dict[str, Any]) -> Any:
        """Logits ``(pairs, labels)`` for one padded pass."""
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        feed = {name: arrays[name] for name in self.input_names}
        return request.infer(feed)[0].copy()
