"""A budget holds from the first call: loading a model is part of the call.

A scorer that still has a model to load loads it in the background while a budgeted call waits
for it at most until the deadline; a cold call that runs out returns in retrieval order and says
so (``stats.loading``), and the loading goes on for the next call. Adapters start the loading
when they are built. Deterministic: the loading is a scripted sleep; one test loads a real
cross-encoder.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from rerank_plugins import ConfigurationError, CrossEncoderScorer, Reranker
from rerank_plugins.testing import KeywordScorer

TEXTS = [f"doc {i}" for i in range(9)] + ["apples doc"]


class SlowLoadingScorer(KeywordScorer):
    """KeywordScorer whose prepare() takes ``load_s`` (a model load), once."""

    def __init__(self, load_s: float, *, broken: bool = False) -> None:
        super().__init__(unit_size=10)
        self.load_s = load_s
        self.broken = broken
        self.loads = 0
        self.started = threading.Event()
        self._loaded = False
        self._load_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._loaded

    def prepare(self) -> None:
        with self._load_lock:
            if self._loaded:
                return
            self.started.set()
            self.loads += 1
            time.sleep(self.load_s)
            if self.broken:
                raise ConfigurationError("SlowLoadingScorer cannot load: built with broken=True.")
            self._loaded = True


def test_a_cold_budgeted_call_returns_at_its_deadline_in_retrieval_order():
    scorer = SlowLoadingScorer(1.0)
    started = time.monotonic()
    result = Reranker(scorer, budget_ms=100).rerank("apples", TEXTS)
    elapsed = time.monotonic() - started
    assert elapsed < 0.1 + 0.08
    assert result.stats.loading and result.stats.budget_exhausted
    assert result.stats.scored == 0 and result.indices == list(range(10))
    assert result.stats.load_wait_ms >= 80  # the time left, less a guard of a tenth
    # The loading goes on: the next call finds the model ready and scores.
    scorer.warm().result(timeout=5)
    again = Reranker(scorer, budget_ms=100).rerank("apples", TEXTS)
    assert again.stats.scored == 10 and not again.stats.loading
    assert again.stats.load_wait_ms == 0 and again.indices[0] == 9
    assert scorer.loads == 1


def test_a_load_that_ends_within_the_budget_is_waited_for_and_scores():
    scorer = SlowLoadingScorer(0.05)
    result = Reranker(scorer, budget_ms=2000).rerank("apples", TEXTS)
    assert result.stats.scored == 10 and not result.stats.loading
    assert result.stats.load_wait_ms >= 40


def test_without_a_budget_the_call_loads_as_long_as_it_takes():
    scorer = SlowLoadingScorer(0.2)
    result = Reranker(scorer).rerank("apples", TEXTS)
    assert result.stats.scored == 10 and not result.stats.loading


def test_async_cold_call_returns_at_its_deadline_too():
    scorer = SlowLoadingScorer(1.0)

    async def first() -> tuple[float, object]:
        started = time.monotonic()
        result = await Reranker(scorer, budget_ms=100).arerank("apples", TEXTS)
        return time.monotonic() - started, result

    elapsed, result = asyncio.run(first())
    assert elapsed < 0.18 and result.stats.loading and result.stats.scored == 0
    scorer.warm().result(timeout=5)
    later = asyncio.run(Reranker(scorer, budget_ms=100).arerank("apples", TEXTS))
    assert later.stats.scored == 10


def test_a_cold_call_warns_that_the_model_is_still_loading(caplog):
    scorer = SlowLoadingScorer(0.5)
    with caplog.at_level(logging.WARNING, logger="rerank_plugins"):
        Reranker(scorer, budget_ms=20).rerank("apples", TEXTS)
    assert "still loading its model when the budget (20 ms) ran out" in caplog.text
    assert "call scorer.warm() or scorer.prepare(), at start-up" in caplog.text


def test_a_load_that_fails_reaches_the_budgeted_caller():
    scorer = SlowLoadingScorer(0.01, broken=True)
    with pytest.raises(ConfigurationError, match="cannot load: built with broken=True"):
        Reranker(scorer, budget_ms=2000).rerank("apples", TEXTS)
    # A failed warm-up is tried again by the next call (and fails again, loudly).
    with pytest.raises(ConfigurationError):
        Reranker(scorer, budget_ms=2000).rerank("apples", TEXTS)
    assert scorer.loads == 2


@pytest.mark.parametrize("framework", ["llama_index", "langchain"])
def test_an_adapter_starts_loading_its_scorer_when_built(framework):
    scorer = SlowLoadingScorer(0.05)
    if framework == "llama_index":
        from rerank_plugins.llama_index import RerankPostprocessor as Adapter
    else:
        from rerank_plugins.langchain import RerankCompressor as Adapter  # type: ignore[assignment]
    Adapter(scorer=scorer, top_n=3, budget_ms=300)
    assert scorer.started.wait(timeout=5)
    scorer.warm().result(timeout=5)
    assert scorer.ready and scorer.loads == 1


def test_a_ready_scorer_is_not_warmed_in_a_thread():
    scorer = KeywordScorer()
    assert scorer.ready
    result = Reranker(scorer, budget_ms=100).rerank("apples", TEXTS)
    assert result.stats.load_wait_ms == 0 and "_warming" not in vars(scorer)


@pytest.mark.slow
def test_a_real_cross_encoder_cold_call_keeps_its_budget(cross_encoder_path):
    scorer = CrossEncoderScorer(str(cross_encoder_path), batch_size=4)
    assert not scorer.ready
    started = time.monotonic()
    result = Reranker(scorer, budget_ms=50).rerank("apples", TEXTS)
    elapsed = time.monotonic() - started
    assert elapsed < 0.05 * 1.1 + 0.1  # the budget, plus room for a busy CI machine
    if result.stats.loading:
        assert result.stats.scored == 0
    scorer.warm().result(timeout=120)
    assert scorer.ready
    assert Reranker(scorer).rerank("apples", TEXTS).stats.scored == 10


@pytest.mark.slow
def test_under_a_deadline_a_unit_is_scored_in_retrieval_order_chunks(cross_encoder_path):
    scorer = CrossEncoderScorer(str(cross_encoder_path), max_batch_tokens=64, score_cache_size=0)
    texts = [f"apples and pears number {i} " * (1 + i % 3) for i in range(12)]
    engine = scorer.engine
    chunks = scorer._chunks(engine, "apples", texts)
    assert [j for chunk in chunks for j in chunk] == list(range(12)) and len(chunks) > 1
    estimate = engine.pairs.estimate("apples", texts)
    for chunk in chunks:  # about one pass each: under the pass's token budget, or one text
        assert len(chunk) == 1 or sum(estimate[j] for j in chunk) <= 64
    # Chunks change which pairs share a pass, never a score (fp32: within float noise).
    whole = Reranker(scorer).rerank("apples", texts)
    chunked = Reranker(scorer, budget_ms=600_000).rerank("apples", texts)
    assert chunked.stats.scored == 12
    by_index = {item.index: item.raw_score for item in whole}
    assert all(abs(item.raw_score - by_index[item.index]) < 1e-4 for item in chunked)
