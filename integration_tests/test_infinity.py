"""A real self-hosted serving engine: Infinity (``infinity-emb``) on 127.0.0.1, serving the
bundled cross-encoder, behind ``CohereScorer`` with its base URL.

Infinity pins an older sentence-transformers than this project, so it lives in a virtualenv of
its own; ``.ci/run`` makes it and points ``RERANK_PLUGINS_INFINITY`` at its ``infinity_emb``
executable (without it these tests are skipped, saying how to set it up). The fixture exports the
bundled reranker as a plain model folder, starts the engine with ``--url-prefix /v2`` (where the
Cohere SDK sends ``/v2/rerank``), waits for it, and stops it afterwards. The contract is checked
against it: the same scores as the in-process model, order, ``top_n``, the budget, and more than
1,000 documents split into requests of at most 1,000.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from integration_tests._infinity import (
    MARKS,
    QUERY,
    TEXTS,
    serving_bundled,
)
from rerank_plugins import CohereScorer, Reranker

pytestmark = MARKS


@pytest.fixture(scope="module")
def infinity(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    # A plain sentence-transformers folder, served with the engine's own defaults.
    with serving_bundled(tmp_path_factory, 1, pinned=False, calibration=None) as (servers, local):
        yield servers[0].url, local


def scorer(url: str, **kw):  # type: ignore[no-untyped-def]
    return CohereScorer(model="scifact-minilm", api_key="unused", base_url=url, **kw)


def test_the_served_model_scores_as_the_one_in_process(infinity):
    url, local = infinity
    served = Reranker(scorer(url)).rerank(QUERY, TEXTS)
    here = Reranker(local).rerank(QUERY, TEXTS)
    assert served.indices == here.indices
    for a, b in zip(served, here, strict=True):
        assert a.score == pytest.approx(b.score, abs=2e-3)
    assert served.stats.scored == len(TEXTS) and served.stats.backend == "cohere"


def test_top_n_and_async(infinity):
    url, _ = infinity
    result = Reranker(scorer(url), top_n=2).rerank(QUERY, TEXTS)
    assert len(result) == 2 and result.indices[0] == 1

    async def main():  # type: ignore[no-untyped-def]
        async with scorer(url) as s:
            return await Reranker(s, top_n=2).arerank(QUERY, TEXTS)

    assert asyncio.run(main()).indices == result.indices


def test_a_budget_too_small_falls_back_to_retrieval_order_on_time(infinity):
    url, _ = infinity
    started = time.monotonic()
    result = Reranker(scorer(url), budget_ms=1).rerank(QUERY, TEXTS)
    assert (time.monotonic() - started) < 0.5
    assert result.stats.scored == 0 and result.indices == [0, 1, 2, 3]


def test_more_than_a_thousand_documents_go_as_requests_of_at_most_a_thousand(infinity):
    url, _ = infinity
    texts = [f"note {i} on aspirin" for i in range(1_001)] + [TEXTS[1]]
    result = Reranker(scorer(url), top_n=1).rerank(QUERY, texts)
    assert result.stats.units == 2 and result.stats.scored == len(texts)
    assert result.indices == [len(texts) - 1]
