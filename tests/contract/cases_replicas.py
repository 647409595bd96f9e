"""A replica set (``ReplicaScorer``) over two real servers speaking Cohere's protocol.

The two endpoints are two :class:`~rerank_plugins.testing.server.RerankServer` processes' worth
of HTTP (the suite's shared server and a second one), each asked with its own key, so the work
done is the requests both servers logged for the case's keys.
"""

from __future__ import annotations

import atexit
import threading

import pytest

from rerank_plugins import ReplicaScorer, Scorer
from rerank_plugins.testing.server import RerankServer
from tests.contract.cases import ScorerCase
from tests.contract.hosted import behaviour_key

_LOCK = threading.Lock()
_SECOND: list[RerankServer] = []


def servers() -> list[RerankServer]:
    """The suite's shared server and a second one (started once, stopped at exit)."""
    with _LOCK:
        if not _SECOND:
            _SECOND.append(RerankServer().start())
            atexit.register(_SECOND[0].stop)
    return [RerankServer.shared(), _SECOND[0]]


def make(behaviour: str, request: pytest.FixtureRequest) -> Scorer:
    options = {"unit_size": 1, "max_concurrency": 1} if behaviour == "slow" else {}
    endpoints = [
        s.scorer_for("cohere", key=behaviour_key(s, behaviour), **options)  # type: ignore[arg-type]
        for s in servers()
    ]
    scorer = ReplicaScorer(endpoints, seed=0)  # type: ignore[arg-type]
    if behaviour == "slow":
        scorer.max_concurrency = 1  # one request at a time, so the budget runs out mid-call
    scorer.prepare()
    request.addfinalizer(scorer.close)
    return scorer


def work(scorer: Scorer) -> int:
    assert isinstance(scorer, ReplicaScorer)
    total = 0
    for endpoint, server in zip(scorer.endpoints, servers(), strict=True):
        assert endpoint._secret is not None
        total += len(server.served(endpoint._secret.get()))
    return total


CASES = [ScorerCase("replicas", make, work)]
