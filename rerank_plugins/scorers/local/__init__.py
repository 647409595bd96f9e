"""Local inference: scorers that run a model in this process.

- :class:`~rerank_plugins.scorers.local.cross_encoder.CrossEncoderScorer` on one of the runtimes
  in :data:`RUNTIMES` (one registry entry each), over an
  :class:`~rerank_plugins.scorers.local.engine.Engine`: tokenizer, micro-batcher, forward pass.
  :mod:`rerank_plugins.scorers.local.engine` is the public seam to share or replace it.
- :class:`~rerank_plugins.scorers.local.query_likelihood.QueryLikelihoodScorer`: a causal LM's
  likelihood of the query given the passage.
- What the machine offers (:func:`cpu_flags`, :func:`cpu_name`, :func:`choose_runtime`,
  :func:`default_threads`), which ``runtime="auto"`` decides from and benchmarks report.
- The engine's parts, for benchmarks and tests that measure them: tokenizing and bucketing
  (:class:`PairEncoder`, :func:`plan_batches`, :func:`pad`), the :class:`MicroBatcher`, and the
  ONNX and OpenVINO models a runtime wraps (:func:`exported_model`, :class:`OnnxModel`,
  :class:`OpenVinoModel`, :func:`has_bf16`).
"""

from rerank_plugins.scorers.local._batching import (
    PASS_TOKENS,
    EncodedPair,
    PairEncoder,
    pad,
    plan_batches,
)
from rerank_plugins.scorers.local._hardware import (
    AutoChoice,
    choose_runtime,
    cpu_flags,
    cpu_name,
    default_threads,
    has_openvino,
)
from rerank_plugins.scorers.local._microbatch import MicroBatcher
from rerank_plugins.scorers.local._onnx import QUANTIZATION, OnnxModel, exported_model
from rerank_plugins.scorers.local._openvino import OpenVinoModel, has_bf16
from rerank_plugins.scorers.local.cross_encoder import RUNTIMES, CrossEncoderScorer, Runtime
from rerank_plugins.scorers.local.engine import Engine, Forward, padded_forward
from rerank_plugins.scorers.local.query_likelihood import QueryLikelihoodScorer

__all__ = [
    "PASS_TOKENS",
    "QUANTIZATION",
    "RUNTIMES",
    "AutoChoice",
    "CrossEncoderScorer",
    "EncodedPair",
    "Engine",
    "Forward",
    "MicroBatcher",
    "OnnxModel",
    "OpenVinoModel",
    "PairEncoder",
    "QueryLikelihoodScorer",
    "Runtime",
    "choose_runtime",
    "cpu_flags",
    "cpu_name",
    "default_threads",
    "exported_model",
    "has_bf16",
    "has_openvino",
    "pad",
    "padded_forward",
    "plan_batches",
]
