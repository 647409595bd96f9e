"""The hosted scorers' contract cases, built once for every protocol the local server speaks.

Each case talks real HTTP, through the real SDK (``cohere``, ``voyageai``) or ``httpx`` (TEI), to
the process-wide :class:`~rerank_plugins.testing.server.RerankServer`. Every scorer gets its own
API key, so the server's log tells exactly how many requests that scorer sent (its ``work``).
"""

from __future__ import annotations

import pytest

from rerank_plugins import Scorer
from rerank_plugins.scorers.hosted import HostedScorer
from rerank_plugins.testing.server import RerankServer
from tests.contract.cases import ScorerCase

BACKENDS = ["cohere", "voyage", "tei"]
"""The hosted backends, each a protocol the local server speaks."""


def behaviour_key(server: RerankServer, behaviour: str) -> str:
    """A key that makes ``server`` show ``behaviour`` (slow, transient, config or none)."""
    if behaviour == "slow":
        return server.key_for("slow", delay_s=0.15)
    if behaviour == "transient":
        return server.key_for("http_503")
    if behaviour == "config":
        return "not-a-valid-key"  # the server answers 401
    return server.new_key()


def hosted_case(backend: str) -> ScorerCase:
    """The contract case of one hosted backend (``cohere``, ``voyage`` or ``tei``)."""

    def make(behaviour: str, request: pytest.FixtureRequest) -> Scorer:
        server = RerankServer.shared()
        options: dict[str, object] = {}
        if behaviour == "slow":  # one text per request, one request at a time
            options = {"unit_size": 1, "max_concurrency": 1}
        elif behaviour == "transient":
            options = {"max_retries": 1}
        scorer = server.scorer_for(backend, key=behaviour_key(server, behaviour), **options)
        scorer.prepare()  # import the SDK and build the client outside the budget
        return scorer

    def work(scorer: Scorer) -> int:
        assert isinstance(scorer, HostedScorer) and scorer.secret is not None
        return len(RerankServer.shared().served(scorer.secret.get()))

    return ScorerCase(backend, make, work)
