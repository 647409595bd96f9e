"""Scorers, and building one from a short spec string (for the CLI and configuration files).

A spec is ``backend`` or ``backend:model``: ``cross-encoder:cross-encoder/ms-marco-MiniLM-L6-v2``,
``cross-encoder:bundled:scifact-minilm``, ``keyword``. Each backend's module is imported only when
its spec is used.
"""

from __future__ import annotations

import importlib
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._scorer import Scorer

__all__ = ["BACKENDS", "from_spec"]

# backend name -> (module, class). Add a backend with one line.
BACKENDS: dict[str, tuple[str, str]] = {
    "cohere": ("rerank_plugins.scorers.cohere", "CohereScorer"),
    "cross-encoder": ("rerank_plugins.scorers.cross_encoder", "CrossEncoderScorer"),
    "keyword": ("rerank_plugins.testing", "KeywordScorer"),
    "llm-judge": ("rerank_plugins.scorers.llm_judge", "LLMJudgeScorer"),
    "tei": ("rerank_plugins.scorers.tei", "TEIScorer"),
    "voyage": ("rerank_plugins.scorers.voyage", "VoyageScorer"),
}


def from_spec(spec: str, **options: Any) -> Scorer:
    """Build a scorer from ``backend[:model]`` and keyword options.

    Args:
        spec: ``backend`` or ``backend:model`` (the model part may itself contain ``:``).
        **options: Passed to the scorer's constructor.

    Raises:
        ConfigurationError: unknown backend.

    Example:
        >>> from_spec("keyword").backend
        'keyword'
    """
    backend, _, model = spec.partition(":")
    if backend not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigurationError(
            f"Unknown reranker backend {backend!r} in spec {spec!r}; use one of: {known} "
            f"(as 'backend' or 'backend:model')."
        )
    module, cls_name = BACKENDS[backend]
    cls = getattr(importlib.import_module(module), cls_name)
    scorer: Scorer = cls(model, **options) if model else cls(**options)
    return scorer
