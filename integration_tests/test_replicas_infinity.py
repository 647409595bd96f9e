"""Three real Infinity replicas on 127.0.0.1 behind one ReplicaScorer: one killed mid-run and
restarted (it rejoins within its probe interval), one made slow by a stalling TCP proxy (hedged),
one answering errors (ejected); and a hosted scorer failing over to the bundled local model.

In every case every call is answered, no candidate is lost or duplicated, and results map back
by index (each call's order is the engine's own, checked against a healthy reference). The
engine comes from ``RERANK_PLUGINS_INFINITY`` (see ``_infinity.py``; ``.ci/run`` sets it).
"""

from __future__ import annotations

import threading
import time

import pytest

from integration_tests._infinity import (
    MARKS,
    MODEL_NAME,
    QUERY,
    TEXTS,
    serving_bundled,
)
from rerank_plugins import CohereScorer, FallbackScorer, ReplicaScorer, Reranker
from rerank_plugins.testing.proxy import FaultProxy

pytestmark = MARKS


@pytest.fixture(scope="module")
def engines(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    with serving_bundled(tmp_path_factory, 3) as (servers, local):
        reference = Reranker(local).rerank(QUERY, TEXTS).indices
        yield servers, local, reference


def replicas(urls: list[str], **options):  # type: ignore[no-untyped-def]
    return ReplicaScorer.from_urls(
        "cohere", urls, model=MODEL_NAME, api_key="unused", seed=0, **options
    )


def check(result, reference: list[int]) -> None:  # type: ignore[no-untyped-def]
    assert result.indices == reference, "every candidate once, mapped back by index"
    assert result.stats.scored == len(TEXTS), result.stats


def test_a_replica_killed_mid_run_loses_nothing_and_rejoins_when_restarted(engines):
    servers, _, reference = engines
    victim = servers[0]
    try:
        stats = killed_and_restarted(victim, [s.url for s in servers], reference)
    finally:  # whatever happened, the next tests get three live replicas
        if victim.proc is None:
            victim.start()
        victim.wait_ready()
    assert stats["ejections"] >= 1 and stats["errors"] + stats["timeouts"] >= 3


def killed_and_restarted(victim, urls: list[str], reference: list[int]):  # type: ignore[no-untyped-def]
    """Kill ``victim`` while calls run, restart it while they go on; its stats once back."""
    with replicas(urls, probe_interval_s=0.5, max_probe_interval_s=2.0) as scorer:
        killer = threading.Timer(1.0, victim.kill)
        killer.start()
        calls = 0
        started = time.monotonic()
        while time.monotonic() - started < 4.0 or calls < 20:
            check(Reranker(scorer, budget_ms=10_000).rerank(QUERY, TEXTS), reference)
            calls += 1
        killer.join()
        assert scorer.endpoint_stats()[victim.url]["state"] in ("ejected", "probing")

        victim.start()
        while True:  # calls go on while the replica starts again
            check(Reranker(scorer, budget_ms=10_000).rerank(QUERY, TEXTS), reference)
            try:
                victim.wait_ready(timeout=0.1)
                break
            except RuntimeError:
                assert victim.proc is not None and victim.proc.poll() is None
        back = time.monotonic()
        while scorer.endpoint_stats()[victim.url]["state"] != "healthy":
            check(Reranker(scorer).rerank(QUERY, TEXTS), reference)
            waited = time.monotonic() - back
            assert waited < scorer.max_probe_interval_s + 2.0, f"not back after {waited:.1f}s"
        return scorer.endpoint_stats()[victim.url]


def test_a_slow_replica_behind_a_stalling_proxy_is_hedged(engines):
    servers, _, reference = engines
    with FaultProxy(servers[2].port, delay_s=0.3) as slow:
        urls = [servers[0].url, servers[1].url, slow.url]
        with replicas(urls, balance="least_outstanding") as scorer:
            for _ in range(30):
                check(Reranker(scorer, budget_ms=10_000).rerank(QUERY, TEXTS), reference)
            stats = scorer.endpoint_stats()
    assert stats[urls[2]]["cancelled"] >= 1, "a slow request lost to its hedge, cancelled"
    assert sum(stats[u]["hedges"] for u in urls[:2]) >= 1
    assert all(s["outstanding"] == 0 and s["errors"] == 0 for s in stats.values())


def test_a_replica_returning_errors_is_ejected(engines):
    servers, _, reference = engines
    with FaultProxy(servers[1].port, fault="http_503") as failing:
        urls = [servers[0].url, failing.url, servers[2].url]
        with replicas(urls, balance="least_outstanding", probe_interval_s=30.0) as scorer:
            for _ in range(12):
                check(Reranker(scorer).rerank(QUERY, TEXTS), reference)
            stats = scorer.endpoint_stats()[failing.url]
        assert failing.requests == 3
    assert stats["state"] == "ejected" and stats["errors"] == 3 and stats["ejections"] == 1


def test_a_failing_hosted_scorer_hands_over_to_the_bundled_model(engines):
    servers, local, _ = engines
    budget_ms = 3000
    with FaultProxy(servers[0].port, fault="http_503") as failing:
        hosted = CohereScorer(MODEL_NAME, api_key="unused", base_url=failing.url)
        with FallbackScorer([hosted, local]) as chain:
            chain.prepare()
            started = time.monotonic()
            result = Reranker(chain, budget_ms=budget_ms).rerank(QUERY, TEXTS)
            elapsed = time.monotonic() - started
    assert elapsed <= 1.1 * budget_ms / 1000
    assert sorted(result.indices) == list(range(len(TEXTS)))
    assert result.stats.scored >= 1
    assert {result.stats.ranked_by[i] for i in result.indices[: result.stats.scored]} == {
        local.name
    }
