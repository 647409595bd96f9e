"""ReplicaScorer against real HTTP servers on 127.0.0.1: balancing, ejection and probing back,
hedging, failover, stats, resources and bad configuration (each message asserted)."""

from __future__ import annotations

import asyncio
import copy
import gc
import pickle
import time

import pytest

from rerank_plugins import (
    CohereScorer,
    ConfigurationError,
    ReplicaScorer,
    Reranker,
    TEIScorer,
)
from rerank_plugins.scorers.replicas._endpoints import Endpoint
from rerank_plugins.testing import KeywordScorer
from rerank_plugins.testing.proxy import FaultProxy
from rerank_plugins.testing.server import RerankServer

KEY = "rk-replicas"
QUERY = "red apple pie"
TEXTS = ["green pear", "pie crust and apple", "red apple pie", "apple", "blue sky", "a red apple"]


@pytest.fixture
def servers():  # type: ignore[no-untyped-def]
    started = [RerankServer(api_key=KEY).start() for _ in range(3)]
    yield started
    for s in started:
        s.stop()


def replicas(urls, **options):  # type: ignore[no-untyped-def]
    return ReplicaScorer.from_urls("tei", urls, api_key=KEY, seed=0, **options)


def reference() -> list[int]:
    with RerankServer(api_key=KEY) as one:
        return Reranker(TEIScorer(api_key=KEY, base_url=one.url)).rerank(QUERY, TEXTS).indices


def assert_complete(result, expected: list[int]) -> None:  # type: ignore[no-untyped-def]
    assert result.indices == expected, "every candidate, once, mapped back by index"
    assert result.stats.scored == len(TEXTS)


# -- bad configuration ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ReplicaScorer([]), "got an empty list of endpoints; pass at least one replica"),
        (lambda: ReplicaScorer.from_urls("tei", []), "got an empty list of endpoints"),
        (lambda: ReplicaScorer.from_urls("tei", "http://a:1"), "needs a list of URLs, got str"),
        (
            lambda: ReplicaScorer.from_urls("tei", ["http://a:8080", "http://A:8080/"]),
            "got the URL 'http://A:8080/' twice; list each replica once",
        ),
        (
            lambda: ReplicaScorer.from_urls("tei", ["localhost:8080"]),
            "got a malformed URL 'localhost:8080'; pass a full http(s) URL with a host",
        ),
        (lambda: ReplicaScorer.from_urls("tei", ["ftp://a:21"]), "got a malformed URL"),
        (lambda: ReplicaScorer.from_urls("tei", ["http://a:port"]), "got a malformed URL"),
        (lambda: ReplicaScorer.from_urls("tei", ["http://"]), "got a malformed URL"),
        (
            lambda: ReplicaScorer(
                [
                    CohereScorer(api_key="k", base_url="http://a:1"),
                    TEIScorer(base_url="http://b:1"),
                ]
            ),
            "speak different protocols (CohereScorer, TEIScorer); replicas of one engine speak one",
        ),
        (
            lambda: ReplicaScorer(
                [TEIScorer("m1", base_url="http://a:1"), TEIScorer("m2", base_url="http://b:1")]
            ),
            "serving different models (m1, m2); replicas serve one model",
        ),
        (
            lambda: ReplicaScorer([CohereScorer(api_key="k")]),
            "has no base_url; give each replica its own base_url",
        ),
        (lambda: ReplicaScorer([KeywordScorer()]), "balances hosted scorers (Cohere, TEI, Voyage)"),
        (lambda: ReplicaScorer.from_urls("grpc", ["http://a:1"]), "got protocol='grpc'"),
        (
            lambda: ReplicaScorer.from_urls("tei", ["http://a:1"], balance="random"),
            "got balance='random'; pass 'p2c' or 'least_outstanding'",
        ),
        (
            lambda: ReplicaScorer.from_urls("tei", ["http://a:1"], eject_after=0),
            "got eject_after=0; pass an integer >= 1",
        ),
        (
            lambda: ReplicaScorer.from_urls("tei", ["http://a:1"], probe_interval_s=0),
            "got probe_interval_s=0; pass a number >= 0.001",
        ),
        (
            lambda: ReplicaScorer.from_urls("tei", ["http://a:1"], max_probe_interval_s=0.5),
            "got max_probe_interval_s=0.5; pass a number >= probe_interval_s (1)",
        ),
        (
            lambda: ReplicaScorer.from_urls("tei", ["http://a:1"], hedging="yes"),
            "got hedging='yes'; pass True or False",
        ),
    ],
)
def test_bad_configuration_is_refused_with_the_fix(build, message):
    with pytest.raises(ConfigurationError) as info:
        build()
    assert message in str(info.value)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)


# -- every protocol ---------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", ["cohere", "tei", "voyage"])
def test_every_protocol_of_the_package_balances_over_replicas(servers, protocol):
    urls = [s.voyage_url if protocol == "voyage" else s.url for s in servers]
    with ReplicaScorer.from_urls(
        protocol, urls, api_key=KEY, balance="least_outstanding"
    ) as scorer:
        results = [Reranker(scorer).rerank(QUERY, TEXTS) for _ in range(6)]
    expected = reference()
    for r in results:
        assert_complete(r, expected)
        assert r.stats.backend == "replicas"
        assert set(r.stats.ranked_by) == {scorer.name}
    assert all(stats["requests"] == 2 for stats in scorer.endpoint_stats().values())


# -- a replica down: failover, ejection, probing back -------------------------------------
def test_a_dead_replica_loses_nothing_is_ejected_and_rejoins_within_its_probe_interval(servers):
    expected = reference()
    scorer = replicas(
        [s.url for s in servers],
        balance="least_outstanding",
        probe_interval_s=0.3,
        max_probe_interval_s=0.6,
    )
    dead = servers[0]
    port = dead.port
    dead_url = servers[0].url
    dead.stop()
    results = [Reranker(scorer, budget_ms=5000).rerank(QUERY, TEXTS) for _ in range(12)]
    for r in results:
        assert_complete(r, expected)
    stats = scorer.endpoint_stats()[dead_url]
    assert stats["errors"] >= 3 and stats["ejections"] >= 1
    assert stats["state"] in ("ejected", "probing")
    assert any(r.stats.endpoints.get(dead_url, {}).get("errors") for r in results)

    with RerankServer(api_key=KEY, port=port):
        back = time.monotonic()
        while scorer.endpoint_stats()[dead_url]["state"] != "healthy":
            assert_complete(Reranker(scorer).rerank(QUERY, TEXTS), expected)
            assert time.monotonic() - back < scorer.max_probe_interval_s + 0.5, "not rejoined"
            time.sleep(0.02)
        before = scorer.endpoint_stats()[dead_url]["requests"]
        for _ in range(6):
            Reranker(scorer).rerank(QUERY, TEXTS)
        assert scorer.endpoint_stats()[dead_url]["requests"] > before, "back in rotation"
    scorer.close()


def test_an_idle_endpoints_latency_estimate_halves_every_second_to_zero():
    slow = Endpoint("http://slow:1", TEIScorer(base_url="http://slow:1"), ewma=0.4, last_seen=10.0)
    fresh = Endpoint("http://new:1", TEIScorer(base_url="http://new:1"))
    assert slow.estimate(10.0, typical=0.01) == pytest.approx(0.4)
    assert slow.estimate(12.0, typical=0.01) == pytest.approx(0.1)
    assert slow.estimate(20.0, typical=0.01) < 0.001, "tried again in the end, however slow"
    assert fresh.estimate(20.0, typical=0.01) == 0.01, "no answer yet: the typical latency"
    slow.outstanding = 2
    assert slow.load(11.0, typical=0.01) == pytest.approx(3 * 0.2)


def test_p2c_finds_a_replica_that_died_while_it_was_the_slowest(servers):
    # A dead replica nobody sends to is never found dead (nor, if it recovers, used again):
    # the slowest one's estimate must fall below the others' while it is left alone.
    expected = reference()
    slow = FaultProxy(servers[2].port, delay_s=0.03).start()
    urls = [servers[0].url, servers[1].url, slow.url]
    dead = urls[2]
    with replicas(urls, hedging=False, probe_interval_s=30, max_probe_interval_s=30) as scorer:
        for _ in range(12):
            assert_complete(Reranker(scorer).rerank(QUERY, TEXTS), expected)
        assert scorer.endpoint_stats()[dead]["requests"] >= 1
        slow.stop()
        started = time.monotonic()
        while scorer.endpoint_stats()[dead]["state"] == "healthy":
            assert_complete(Reranker(scorer, budget_ms=5000).rerank(QUERY, TEXTS), expected)
            assert time.monotonic() - started < 12.0, "the dead replica is never tried"
            time.sleep(0.02)
        stats = scorer.endpoint_stats()[dead]
    assert stats["state"] == "ejected" and stats["errors"] == 3


def test_a_replica_answering_errors_is_ejected_and_the_call_answered(servers):
    expected = reference()
    with FaultProxy(servers[2].port, fault="http_503") as failing:
        urls = [servers[0].url, servers[1].url, failing.url]
        with replicas(
            urls, balance="least_outstanding", probe_interval_s=60, max_probe_interval_s=60
        ) as scorer:
            for _ in range(12):
                assert_complete(Reranker(scorer).rerank(QUERY, TEXTS), expected)
            stats = scorer.endpoint_stats()[failing.url]
    assert stats["errors"] == 3 and stats["ejections"] == 1 and stats["state"] == "ejected"
    assert failing.requests == 3, "no request after the ejection"


def test_every_replica_down_is_a_transient_failure_with_nothing_lost(servers):
    scorer = replicas([s.url for s in servers])
    for s in servers:
        s.stop()
    Reranker(scorer, budget_ms=3000).rerank(QUERY, TEXTS)  # 2 attempts on each: not yet ejected
    result = Reranker(scorer, budget_ms=3000).rerank(QUERY, TEXTS)
    assert result.indices == list(range(len(TEXTS))) and result.stats.scored == 0
    assert result.stats.fallback_reason and "connection" in result.stats.fallback_reason
    assert all(v["state"] != "healthy" for v in scorer.endpoint_stats().values())
    scorer.close()


# -- a slow replica: hedging --------------------------------------------------------------
def test_a_slow_replica_is_hedged_and_the_loser_cancelled(servers):
    expected = reference()
    with FaultProxy(servers[2].port, delay_s=0.6) as slow:
        urls = [servers[0].url, servers[1].url, slow.url]
        with replicas(urls, balance="least_outstanding") as scorer:
            for _ in range(15):  # each endpoint learns its p95 (5 answers; the slow one's 0.6 s)
                Reranker(scorer).rerank(QUERY, TEXTS)
            latencies = []
            for _ in range(9):
                started = time.monotonic()
                assert_complete(Reranker(scorer).rerank(QUERY, TEXTS), expected)
                latencies.append(time.monotonic() - started)
            stats = scorer.endpoint_stats()
    assert max(latencies) < 0.4, f"a call waited for the slow replica: {latencies}"
    assert stats[urls[2]]["cancelled"] >= 3, "the slow request lost and was cancelled"
    assert sum(stats[u]["hedges"] for u in urls[:2]) >= 3
    assert all(s["outstanding"] == 0 for s in stats.values())


def test_without_hedging_the_slow_replica_is_waited_for(servers):
    with FaultProxy(servers[2].port, delay_s=0.3) as slow:
        urls = [servers[0].url, servers[1].url, slow.url]
        with replicas(urls, balance="least_outstanding", hedging=False) as scorer:
            waited = []
            for _ in range(9):
                started = time.monotonic()
                result = Reranker(scorer).rerank(QUERY, TEXTS)
                if urls[2] in result.stats.endpoints:
                    waited.append(time.monotonic() - started)
                assert "hedges" not in str(result.stats.endpoints)
    assert len(waited) == 3 and min(waited) >= 0.3, "every third call waits for the slow one"


def test_no_hedge_when_the_deadline_leaves_no_room(servers):
    with FaultProxy(servers[2].port, delay_s=0.25) as slow:
        urls = [servers[0].url, slow.url]
        with replicas(urls, balance="least_outstanding", hedge_min_ms=150) as scorer:
            for _ in range(12):
                Reranker(scorer).rerank(QUERY, TEXTS)
            before = scorer.endpoint_stats()[servers[0].url]["hedges"]
            # Hedging would start at 150 ms; a 160 ms budget leaves no room for a second try.
            for _ in range(4):
                Reranker(scorer, budget_ms=160).rerank(QUERY, TEXTS)
            assert scorer.endpoint_stats()[servers[0].url]["hedges"] == before


# -- sync and async, stats, resources ----------------------------------------------------
def test_async_gives_the_same_result_and_reports_endpoint_stats(servers):
    expected = reference()
    scorer = replicas([s.url for s in servers])

    async def main():  # type: ignore[no-untyped-def]
        async with scorer:
            return [await Reranker(scorer).arerank(QUERY, TEXTS) for _ in range(4)]

    results = asyncio.run(main())
    for r in results:
        assert_complete(r, expected)
        (counts,) = r.stats.endpoints.values()
        assert counts["requests"] == 1 and counts["latency_ms"] > 0
    assert sum(v["requests"] for v in scorer.endpoint_stats().values()) == 4
    scorer.close()


def test_sync_call_inside_a_running_event_loop(servers):
    expected = reference()

    async def handler() -> list[int]:
        with replicas([s.url for s in servers]) as scorer:
            return Reranker(scorer).rerank(QUERY, TEXTS).indices

    assert asyncio.run(handler()) == expected


def test_close_and_dropping_release_the_private_loop(servers):
    scorer = replicas([s.url for s in servers])
    Reranker(scorer).rerank(QUERY, TEXTS)
    first = scorer._runner._thread
    assert first is not None and first.is_alive() and first.name == "rerank-plugins-replicas"
    scorer.close()
    assert not first.is_alive()
    Reranker(scorer).rerank(QUERY, TEXTS)  # a later call starts afresh
    second = scorer._runner._thread
    assert second is not None and second.is_alive()
    del scorer
    gc.collect()
    assert not second.is_alive(), "dropping the scorer stops its loop"


def test_copies_share_the_set_and_pickling_is_refused():
    scorer = ReplicaScorer.from_urls("tei", ["http://a:1", "http://b:1"])
    assert copy.copy(scorer) is scorer and copy.deepcopy(scorer) is scorer
    with pytest.raises(TypeError, match="not picklable: it owns live connections"):
        pickle.dumps(scorer)
    assert "urls=['http://a:1', 'http://b:1']" in repr(scorer)
