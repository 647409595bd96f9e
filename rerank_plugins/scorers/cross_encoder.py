"""Where :class:`CrossEncoderScorer` has always been importable from; it lives in
:mod:`rerank_plugins.scorers.local.cross_encoder`."""

from rerank_plugins.scorers.local.cross_encoder import (
    RUNTIMES,
    CrossEncoderScorer,
    Runtime,
    check_labels,
    raw_scores,
)

__all__ = ["RUNTIMES", "CrossEncoderScorer", "Runtime", "check_labels", "raw_scores"]
