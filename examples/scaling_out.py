"""Scaling out: one scorer over three replicas (one slow, then one dead), and a fallback chain
from a failing hosted API to the bundled local model.

The replicas here are three copies of the package's local rerank server on 127.0.0.1 (it speaks
Cohere's protocol through the real SDK but scores by word overlap); in production they are
Infinity, vLLM or TEI pods behind their own addresses: ``ReplicaScorer.from_urls("cohere",
["http://infinity-0:7997", ...], model=..., api_key="unused")``. One replica is made slow by a
stalling TCP proxy in front of it (the delay is simulated); later another one is stopped. Every
call is answered; the per-endpoint stats show the hedges, the cancelled losers and the ejection.
Then a ``FallbackScorer`` whose hosted scorer answers 503 hands the candidates to the bundled
cross-encoder inside the budget, and the stats name who ranked each one.

Run: ``python examples/scaling_out.py`` (needs ``rerank-plugins[cohere,local]``).
"""

from __future__ import annotations

import statistics
import time

from _scifact import CI, load_task  # sets the offline environment first

from rerank_plugins import CrossEncoderScorer, FallbackScorer, ReplicaScorer, Reranker
from rerank_plugins.testing.proxy import FaultProxy
from rerank_plugins.testing.server import RerankServer

KEY = "demo-key"
# One real SciFact claim and the abstracts a first stage would hand over: its answers and the
# look-alikes that share most of its words.
TASK = load_task(1, 5)
(QUERY,) = TASK.claims.values()
TEXTS = list(TASK.docs.values())


def timed_calls(scorer: ReplicaScorer, n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.monotonic()
        result = Reranker(scorer, budget_ms=2000).rerank(QUERY, TEXTS)
        assert sorted(result.indices) == list(range(len(TEXTS))), "nothing lost or duplicated"
        assert result.stats.scored == len(TEXTS), result.stats
        out.append(1000 * (time.monotonic() - started))
    return out


def show(scorer: ReplicaScorer, names: dict[str, str]) -> None:
    for url, s in scorer.endpoint_stats().items():
        p95 = "-" if s["latency_p95_ms"] is None else f"{s['latency_p95_ms']:.0f} ms"
        print(
            f"  {names[url]:<16} {s['state']:<8} requests {s['requests']:>3}  errors "
            f"{s['errors']:>2}  hedges {s['hedges']:>2}  cancelled {s['cancelled']:>2}  "
            f"ejections {s['ejections']}  p95 {p95}"
        )


def replicas_demo() -> None:
    servers = [RerankServer(api_key=KEY).start() for _ in range(3)]
    # Each replica behind a proxy: stopping one's proxy cuts it off as a crashed pod would.
    proxies = [FaultProxy(server.port).start() for server in servers]
    proxies[2].delay_s = 0.3  # replica 3: +300 ms (a simulated delay in front of it)
    names = {p.url: f"replica {i + 1}" for i, p in enumerate(proxies)}
    urls = list(names)
    calls = 15 if CI else 30
    try:
        for hedging in (False, True):
            with ReplicaScorer.from_urls(
                "cohere", urls, api_key=KEY, balance="least_outstanding", hedging=hedging
            ) as scorer:
                scorer.prepare()  # clients built at start-up, not inside the first budget
                timed_calls(scorer, 15)  # each replica answers 5 times: its p95 is learned
                ms = sorted(timed_calls(scorer, calls))
                print(
                    f"\nReplica 3 slow (+300 ms), hedging {'on' if hedging else 'off'}: "
                    f"{calls} calls, p50 {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms"
                )
                show(scorer, names)

        with ReplicaScorer.from_urls("cohere", urls, api_key=KEY, probe_interval_s=0.5) as scorer:
            scorer.prepare()
            timed_calls(scorer, 6)
            proxies[0].stop()  # replica 1 goes down mid-run
            timed_calls(scorer, calls)
            print(f"\nReplica 1 stopped: {calls} more calls, every one answered, nothing lost")
            show(scorer, names)
            result = Reranker(scorer).rerank(QUERY, TEXTS)
            print(f"  this call's stats.endpoints: {result.stats.endpoints}")
    finally:
        for proxy in proxies:
            proxy.stop()
        for server in servers:
            server.stop()


def fallback_demo() -> None:
    local = CrossEncoderScorer("bundled:scifact-minilm", score_cache_size=0)
    Reranker(local).rerank(QUERY, TEXTS)  # warm at start-up: the model's cost is learned
    with RerankServer() as server:
        hosted = server.scorer_for("cohere", key=server.key_for("http_503"), max_retries=1)
        with FallbackScorer([hosted, local]) as chain:
            chain.prepare()  # clients and model at start-up, not inside the budget
            started = time.monotonic()
            result = Reranker(chain, budget_ms=3000, top_n=3).rerank(QUERY, TEXTS)
            took = 1000 * (time.monotonic() - started)
    print(f"\nFallback chain: {chain.name}")
    print(f"  the hosted API answered 503; {took:.0f} ms for a 3000 ms budget")
    for item in result:  # unscored (None) where the budget ran out first
        score = "-" if item.score is None else f"{item.score:.3f}"
        by = result.stats.ranked_by[item.index] or "retrieval order"
        print(f"  {score:>5}  {by:<38} {item.text[:60]}...")


if __name__ == "__main__":
    replicas_demo()
    fallback_demo()
