"""A fallback chain (``FallbackScorer``): a hosted scorer over real HTTP, then a local one.

``ok``: the hosted scorer works and ranks everything. ``slow``: the hosted scorer answers 503 at
once and the next scorer is slow, so the budget runs out in its turn. ``transient``: both fail.
``config``: the hosted scorer's key is rejected (raised, never handed over).
"""

from __future__ import annotations

import pytest

from rerank_plugins import FallbackScorer, Scorer
from rerank_plugins.scorers.hosted import HostedScorer
from rerank_plugins.testing import KeywordScorer
from rerank_plugins.testing.server import RerankServer
from tests.contract.cases import ScorerCase


def make(behaviour: str, request: pytest.FixtureRequest) -> Scorer:
    server = RerankServer.shared()
    if behaviour == "ok":
        hosted_key = server.new_key()
    elif behaviour == "config":
        hosted_key = "not-a-valid-key"
    else:
        hosted_key = server.key_for("http_503")
    hosted = server.scorer_for("cohere", key=hosted_key, max_retries=0)
    local = KeywordScorer(
        unit_size=1 if behaviour == "slow" else 32,
        delay_s=0.15 if behaviour == "slow" else 0.0,
        fail_always=behaviour == "transient",
        max_retries=0,
    )
    chain = FallbackScorer([hosted, local])
    chain.prepare()
    request.addfinalizer(chain.close)
    return chain


def work(scorer: Scorer) -> int:
    assert isinstance(scorer, FallbackScorer)
    hosted, local = scorer.scorers
    assert isinstance(hosted, HostedScorer) and isinstance(local, KeywordScorer)
    assert hosted.secret is not None
    return len(RerankServer.shared().served(hosted.secret.get())) + local.calls


CASES = [ScorerCase("fallback", make, work)]
