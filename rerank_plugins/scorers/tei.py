"""Kept importable here; the scorer lives in :mod:`rerank_plugins.scorers.hosted.tei`."""

from rerank_plugins.scorers.hosted.tei import TEIScorer

__all__ = ["TEIScorer"]
