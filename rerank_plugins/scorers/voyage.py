"""Kept importable here; the scorer lives in :mod:`rerank_plugins.scorers.hosted.voyage`."""

from rerank_plugins.scorers.hosted.voyage import VoyageScorer

__all__ = ["VoyageScorer"]
