"""Load on the hosted scorers: concurrency on one shared scorer, and requests above the limit.

* 120 concurrent async reranks on one scorer (one client per event loop, shared by all), each
  with its own query and texts: every result is correct and belongs to its own query.
* 2,500 texts: split into requests of at most 1,000 (the providers' limit), sent concurrently,
  mapped back by ``index`` (the server returns results sorted by score, never by position),
  billed units summed.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from rerank_plugins import Reranker
from rerank_plugins.testing.server import RerankServer, lexical_relevance

BACKENDS = ["cohere", "voyage", "tei"]
N_QUERIES = 120


@pytest.fixture(scope="module")
def server() -> RerankServer:
    return RerankServer.shared()


def _task(i: int) -> tuple[str, list[str], str]:
    """Query ``i``, its shuffled texts, and the one text that answers it."""
    answer = f"topic{i} alpha beta"
    others = [f"topic{(i + k) % N_QUERIES + N_QUERIES} alpha" for k in range(1, 6)]
    texts = [*others, answer, "nothing relevant here"]
    random.Random(i).shuffle(texts)
    return f"topic{i} alpha beta", texts, answer


@pytest.mark.parametrize("backend", BACKENDS)
async def test_concurrent_async_reranks_on_one_shared_scorer(server, backend):
    key = server.new_key()
    reranker = Reranker(server.scorer_for(backend, key=key), top_n=3)
    tasks = [_task(i) for i in range(N_QUERIES)]
    results = await asyncio.gather(*(reranker.arerank(q, texts) for q, texts, _ in tasks))
    for (query, texts, answer), result in zip(tasks, results):
        assert result.items[0].text == answer, f"{query!r} got another query's answer"
        assert texts[result.items[0].index] == answer
        expected = sorted(texts, key=lambda t: -lexical_relevance(query, t))[:3]
        assert [item.text for item in result.items] == expected
        assert result.stats.fallback_reason is None and result.stats.scored == len(texts)
    assert len(server.served(key)) == N_QUERIES, "one request per rerank, none lost or repeated"


@pytest.mark.parametrize(
    ("backend", "n", "per_request"),
    [("cohere", 2500, 1000), ("voyage", 2500, 1000), ("tei", 100, 32)],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_above_the_document_limit_splits_and_maps_back_by_index(
    server, backend, n, per_request, mode
):
    key = server.new_key()
    scorer = server.scorer_for(backend, key=key)
    assert scorer.unit_size == per_request and scorer.max_concurrency > 1
    texts = [f"doc {i} " + "apple " * (i % 7) for i in range(n)]
    reranker = Reranker(scorer)
    query = "apple"
    result = (
        reranker.rerank(query, texts)
        if mode == "sync"
        else asyncio.run(reranker.arerank(query, texts))
    )
    requests = server.served(key)
    assert sorted(r.documents for r in requests) == sorted(
        [per_request] * (n // per_request) + ([n % per_request] if n % per_request else [])
    )
    assert all(r.status == 200 for r in requests)
    assert result.stats.scored == n and result.stats.units == len(requests)
    for item in result.items:
        expected = lexical_relevance(query, item.text)
        if backend == "tei":
            assert item.raw_score == pytest.approx(8 * expected - 4)
        else:
            assert item.score == pytest.approx(expected)
    if backend == "cohere":  # one search unit per 100 documents of each request
        assert result.stats.billed == {
            "search_units": sum(-(-r.documents // 100) for r in requests)
        }
    if backend == "voyage":
        assert result.stats.billed["total_tokens"] > 0
