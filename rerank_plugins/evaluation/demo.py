"""The default reranker of the demo and the examples, and the honest fallback when it is missing.

The default is the reranker tuned on SciFact's training claims that ships inside the package
(``cross-encoder:bundled:scifact-minilm``). Switching the default is one line:
:data:`DEFAULT_RERANKER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._scorer import Scorer

__all__ = [
    "DEFAULT_BLEND",
    "DEFAULT_RERANKER",
    "FALLBACK_RERANKER",
    "ResolvedScorer",
    "default_scorer",
]

DEFAULT_RERANKER = "cross-encoder:bundled:scifact-minilm"
"""The spec of the offline default reranker (see :func:`rerank_plugins.scorers.from_spec`)."""

DEFAULT_BLEND: float | None = None
"""The ``blend`` of ``rerank-plugins demo`` and ``eval``: none, the reranker alone. Chosen with the
bundled reranker's other defaults on the validation slice of the SciFact training claims (never
the development claims the demo reports on): alone, with long abstracts read as windows, it beat
every blend measured there (its model card has the table). ``--blend W`` mixes in the first
stage."""

FALLBACK_RERANKER = "keyword"
"""What the demo uses, and says it uses, when the default reranker cannot load."""


@dataclass(frozen=True)
class ResolvedScorer:
    """A scorer ready to use, its spec, and a note when it is not the one asked for."""

    scorer: Scorer
    spec: str
    note: str | None = None


def default_scorer(spec: str = DEFAULT_RERANKER, **options: Any) -> ResolvedScorer:
    """Build and load ``spec``; if it cannot load, fall back to word overlap and say why.

    Only for the demo and the examples, which must run anywhere: ``rerank-plugins eval`` never
    falls back, it raises.

    Example:
        >>> from rerank_plugins.evaluation.demo import default_scorer
        >>> default_scorer("keyword").scorer.backend
        'keyword'
    """
    from rerank_plugins.scorers import from_spec

    try:
        scorer = from_spec(spec, **options)
        scorer.prepare()
    except (ConfigurationError, ImportError, OSError) as exc:
        fallback = from_spec(FALLBACK_RERANKER)
        note = (
            f"The reranker {spec!r} could not be loaded ({type(exc).__name__}: {exc}). This run "
            f"uses {FALLBACK_RERANKER!r} instead: word overlap between claim and abstract, a "
            f"baseline, not a neural reranker; its figures say nothing about a cross-encoder."
        )
        return ResolvedScorer(fallback, FALLBACK_RERANKER, note)
    return ResolvedScorer(scorer, spec)
