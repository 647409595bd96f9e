"""Helpers for tests and demos: the protocol server (:mod:`rerank_plugins.testing.server`) and
its fault-injecting proxy (:mod:`rerank_plugins.testing.proxy`).

:class:`KeywordScorer` is a scorer like the others (:mod:`rerank_plugins.scorers.keyword`); it
stays importable from here.
"""

from rerank_plugins.scorers.keyword import KeywordScorer

__all__ = ["KeywordScorer"]
