"""Where :class:`QueryLikelihoodScorer` has always been importable from; it lives in
:mod:`rerank_plugins.scorers.local.query_likelihood`."""

from rerank_plugins.scorers.local.query_likelihood import DEFAULT_PROMPT, QueryLikelihoodScorer

__all__ = ["DEFAULT_PROMPT", "QueryLikelihoodScorer"]
