"""One logical scorer over several endpoints of the same model: :class:`ReplicaScorer`."""

from rerank_plugins.scorers.replicas._scorer import ReplicaScorer

__all__ = ["ReplicaScorer"]
