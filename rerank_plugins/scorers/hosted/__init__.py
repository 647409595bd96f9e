"""Scorers that call a hosted rerank endpoint over HTTP: Cohere, Voyage AI and TEI.

:class:`HostedScorer` is their shared base (API key, client ownership, request timeout, the
one translation of HTTP errors); each provider's module holds only what its protocol needs.
The functions below are that shared boundary, public so that a new provider (and the tests)
use the same ones. Importing this package imports no SDK: each scorer loads its SDK on first
use.
"""

from rerank_plugins.scorers.hosted._boundary import (
    Secret,
    request_timeout,
    resolve_api_key,
    retry_after_seconds,
    scores_by_index,
    status_error,
    transport_error,
)
from rerank_plugins.scorers.hosted._http import HostedScorer
from rerank_plugins.scorers.hosted.cohere import CohereScorer
from rerank_plugins.scorers.hosted.tei import TEIScorer
from rerank_plugins.scorers.hosted.voyage import VoyageScorer

__all__ = [
    "CohereScorer",
    "HostedScorer",
    "Secret",
    "TEIScorer",
    "VoyageScorer",
    "request_timeout",
    "resolve_api_key",
    "retry_after_seconds",
    "scores_by_index",
    "status_error",
    "transport_error",
]
