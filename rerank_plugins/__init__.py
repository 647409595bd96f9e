"""rerank-plugins: a rerank stage for RAG pipelines.

One core (:class:`Reranker`) holds the semantics of ``top_n``, the candidate window, the score
threshold, the latency budget and failure handling; scorers plug into it; the LlamaIndex and
LangChain adapters are thin layers over it. Importing this package loads no heavy library: scorers
and adapters are imported lazily on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rerank_plugins._calibration import Calibration, fit_calibration
from rerank_plugins._core import (
    METADATA_KEYS,
    RankedText,
    Reranker,
    RerankOptions,
    RerankResult,
    RerankStats,
    blend_scores,
)
from rerank_plugins._deadline import Deadline, query_deadline, ttft_budget
from rerank_plugins._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    InvalidInputError,
    MalformedResponseError,
    MissingDependencyError,
    RateLimitedError,
    RequestRejectedError,
    RerankError,
    ServerError,
    TimedOutError,
    TransientError,
)
from rerank_plugins._scorer import Normalization, Scorer, Unit, UnitScores

if TYPE_CHECKING:
    from rerank_plugins.scorers.cohere import CohereScorer
    from rerank_plugins.scorers.fallback import FallbackScorer
    from rerank_plugins.scorers.llm_judge import LLMJudgeScorer
    from rerank_plugins.scorers.local.cross_encoder import CrossEncoderScorer
    from rerank_plugins.scorers.replicas import ReplicaScorer
    from rerank_plugins.scorers.tei import TEIScorer
    from rerank_plugins.scorers.voyage import VoyageScorer

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "Calibration",
    "CohereScorer",
    "ConfigurationError",
    "ConnectionFailedError",
    "CrossEncoderScorer",
    "Deadline",
    "FallbackScorer",
    "InvalidInputError",
    "LLMJudgeScorer",
    "METADATA_KEYS",
    "MalformedResponseError",
    "MissingDependencyError",
    "Normalization",
    "RankedText",
    "RateLimitedError",
    "ReplicaScorer",
    "RequestRejectedError",
    "RerankError",
    "RerankOptions",
    "RerankResult",
    "RerankStats",
    "Reranker",
    "Scorer",
    "ServerError",
    "TEIScorer",
    "TimedOutError",
    "TransientError",
    "Unit",
    "UnitScores",
    "VoyageScorer",
    "__version__",
    "blend_scores",
    "fit_calibration",
    "query_deadline",
    "ttft_budget",
]

# Scorers that wrap a heavy library load on first attribute access (PEP 562).
_LAZY = {
    "CohereScorer": "rerank_plugins.scorers.cohere",
    "CrossEncoderScorer": "rerank_plugins.scorers.local.cross_encoder",
    "FallbackScorer": "rerank_plugins.scorers.fallback",
    "LLMJudgeScorer": "rerank_plugins.scorers.llm_judge",
    "ReplicaScorer": "rerank_plugins.scorers.replicas",
    "TEIScorer": "rerank_plugins.scorers.tei",
    "VoyageScorer": "rerank_plugins.scorers.voyage",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rerank_plugins' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
