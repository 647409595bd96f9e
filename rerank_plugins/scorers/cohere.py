"""Kept importable here; the scorer lives in :mod:`rerank_plugins.scorers.hosted.cohere`."""

from rerank_plugins.scorers.hosted.cohere import CohereScorer

__all__ = ["CohereScorer"]
