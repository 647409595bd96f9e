"""The budget is a deadline that recovers: one slow unit never switches reranking off.

Each test here is a repro from the issue that found the lock-out (a cold start, a GC pause, a
warm-up call), run through the real core with the deterministic :class:`KeywordScorer`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from rerank_plugins import ConfigurationError, Reranker, TransientError
from rerank_plugins.testing import KeywordScorer

TEXTS = [f"doc {i} apples" for i in range(10)]


def test_one_slow_unit_does_not_lock_the_reranker_out():
    scorer = KeywordScorer(unit_size=10, delay_s=0.5)
    reranker = Reranker(scorer, budget_ms=300)
    assert reranker.rerank("apples", TEXTS).stats.scored == 10  # slow, but it had no estimate
    scorer.delay_s = 0.005  # the backend is fast again
    for _ in range(5):
        assert reranker.rerank("apples", TEXTS).stats.scored == 10
    assert Reranker(scorer, budget_ms=300).rerank("apples", TEXTS).stats.scored == 10


def test_a_warm_up_call_with_one_text_does_not_price_out_a_full_request():
    scorer = KeywordScorer(unit_size=50, delay_s=1.0)
    Reranker(scorer).rerank("apples", ["apples"])  # 1 s for one text (a cold connection)
    scorer.delay_s = 0.01
    texts = [f"apples {i}" for i in range(50)]
    reranker = Reranker(scorer, budget_ms=500)
    scored = [reranker.rerank("apples", texts).stats.scored for _ in range(5)]
    # The first call trusts the estimate (one text costs 2x the budget) and relaxes it; the
    # second sends a request again, measures, and scores; soon all 50 fit.
    assert scored[0] == 0 and scored[1] > 0 and scored[-1] == 50


def test_an_estimate_above_the_whole_budget_decays_until_a_call_tries():
    scorer = KeywordScorer(unit_size=1, delay_s=0.3)
    Reranker(scorer).rerank("apples", ["apples"])  # 0.3 s a text; the budget will be 20 ms
    scorer.delay_s = 0.0
    reranker = Reranker(scorer, budget_ms=20)
    scored = [reranker.rerank("apples", TEXTS[:3]).stats.scored for _ in range(8)]
    assert scored[0] == 0 and scored[-1] == 3


def test_async_recovers_the_same_way():
    scorer = KeywordScorer(unit_size=10, delay_s=0.5)
    reranker = Reranker(scorer, budget_ms=300)
    asyncio.run(reranker.arerank("apples", TEXTS))
    scorer.delay_s = 0.005
    assert asyncio.run(reranker.arerank("apples", TEXTS)).stats.scored == 10


def test_a_call_that_scores_nothing_for_the_budget_warns_and_says_so(caplog):
    scorer = KeywordScorer(unit_size=1, delay_s=0.2)
    Reranker(scorer).rerank("apples", ["apples"])
    with caplog.at_level(logging.WARNING, logger="rerank_plugins"):
        result = Reranker(scorer, budget_ms=10).rerank("apples", TEXTS[:2])
    assert result.stats.scored == 0 and result.stats.budget_exhausted
    assert "before any of 2 candidate(s) was scored" in caplog.text


def test_per_call_overrides_of_top_n_and_budget():
    reranker = Reranker(KeywordScorer(), top_n=1)
    assert len(reranker.rerank("apples", TEXTS)) == 1
    assert len(reranker.rerank("apples", TEXTS, top_n=3)) == 3
    assert len(reranker.rerank("apples", TEXTS, top_n=None)) == 10
    assert reranker.rerank("apples", TEXTS, budget_ms=5000).stats.budget_ms == 5000
    assert reranker.options.top_n == 1  # the reranker's own options are unchanged
    with pytest.raises(ConfigurationError, match="top_n must be a positive integer"):
        reranker.rerank("apples", TEXTS, top_n=0)
    assert len(asyncio.run(reranker.arerank("apples", TEXTS, top_n=2))) == 2


def test_option_errors_are_configuration_errors_and_value_errors():
    with pytest.raises(ConfigurationError) as info:
        Reranker(KeywordScorer(), budget_ms=-1)
    assert isinstance(info.value, ValueError)


def test_result_is_indexable_and_sliceable():
    result = Reranker(KeywordScorer()).rerank("red apples", ["pears", "red apples", "apples"])
    assert result[0].text == "red apples"
    assert [item.text for item in result[:2]] == ["red apples", "apples"]


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, 1e308, -1e308])
def test_non_finite_or_huge_first_stage_scores_never_make_nan(bad):
    texts = ["red apples", "apples", "pears"]
    for blend in (None, 0.5):
        result = Reranker(KeywordScorer(), blend=blend).rerank(
            "red apples", texts, retrieval_scores=[bad, 0.5, 0.1]
        )
        assert all(item.score is not None and not math.isnan(item.score) for item in result)
        assert sorted(result.indices) == [0, 1, 2]


def test_lone_surrogates_are_scored_and_returned_as_given():
    texts = ["apples \ud800 here", "pears"]
    result = Reranker(KeywordScorer()).rerank("apples \udfff", texts)
    assert result[0].text == texts[0] and result[0].scored


def test_sync_raise_stops_the_units_that_have_not_started():
    scorer = KeywordScorer(unit_size=1, delay_s=0.05, fail_always=True, max_retries=0)
    scorer.max_concurrency = 2
    started = time.monotonic()
    with pytest.raises(TransientError):
        Reranker(scorer, on_error="raise").rerank("apples", [f"apples {i}" for i in range(40)])
    assert time.monotonic() - started < 1.0
    assert scorer.calls <= 4  # not all 40


class BudgetAcrossCalls(RuleBasedStateMachine):
    """Unit costs change between calls (slow, fast, slow...); every call stays within its budget
    plus one unit, and once the backend is fast again, the next calls score."""

    BUDGET_S = 0.06
    UNIT = 4

    def __init__(self) -> None:
        super().__init__()
        self.scorer = KeywordScorer(unit_size=self.UNIT)
        self.reranker = Reranker(self.scorer, budget_ms=self.BUDGET_S * 1000)
        self.fast_calls_in_a_row = 0

    @rule(delay=st.sampled_from([0.0, 0.001, 0.03, 0.08, 0.2]))
    def set_backend_speed(self, delay: float) -> None:
        self.scorer.delay_s = delay
        self.fast_calls_in_a_row = 0

    @rule(n=st.integers(1, 12))
    def call(self, n: int) -> None:
        started = time.monotonic()
        result = self.reranker.rerank("apples", [f"apples {i}" for i in range(n)])
        took = time.monotonic() - started
        assert took <= self.BUDGET_S + self.scorer.delay_s + 0.05  # budget plus one unit
        if self.scorer.delay_s <= 0.001:
            self.fast_calls_in_a_row += 1
            if self.fast_calls_in_a_row >= 3:
                assert result.stats.scored == n, "a fast backend must be scored again"

    @invariant()
    def estimate_is_finite(self) -> None:
        per_work = self.scorer.cost.per_work
        assert per_work is None or (per_work >= 0 and math.isfinite(per_work))
        assert 1.0 <= self.scorer.cost.margin <= self.scorer.cost.MAX_MARGIN


TestBudgetAcrossCalls = BudgetAcrossCalls.TestCase
TestBudgetAcrossCalls.settings = settings(max_examples=25, stateful_step_count=12, deadline=None)


def test_eval_flags_queries_that_the_budget_left_unscored():
    from rerank_plugins.evaluation.beir import BeirDataset
    from rerank_plugins.evaluation.report import render_terminal
    from rerank_plugins.evaluation.retrieval import Hit
    from rerank_plugins.evaluation.run import run_evaluation

    corpus = {f"d{i}": ("", f"apples {i}") for i in range(4)}
    ds = BeirDataset(corpus=corpus, queries={"q": "apples 3"}, qrels={"q": {"d3": 1}})
    hits = {"q": [Hit(f"d{i}", 1.0 - i / 10) for i in range(4)]}
    scorer = KeywordScorer(unit_size=4, delay_s=0.3)
    Reranker(scorer).rerank("apples", ["apples"] * 4)  # the estimate: 75 ms a text
    result = run_evaluation(
        ds, hits, Reranker(scorer, budget_ms=20), show=0, progress=False, config={}
    )
    assert result.latency.unscored_by_budget_rate == 1.0
    assert "before any candidate was scored" in render_terminal(result)


def test_a_configuration_error_is_raised_without_waiting_for_slow_siblings():
    from collections.abc import Sequence

    from rerank_plugins import AuthenticationError, Scorer, UnitScores

    class OneBadRequest(Scorer):
        backend = "demo"
        unit_size = 1
        max_concurrency = 3

        @property
        def model(self) -> str:
            return "m"

        def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None):
            if texts[0] == "bad":
                raise AuthenticationError("HTTP 401: the key was rejected")
            time.sleep(1.0)
            return UnitScores([0.5])

    started = time.monotonic()
    with pytest.raises(AuthenticationError):
        Reranker(OneBadRequest()).rerank("q", ["slow", "bad", "slow too"])
    assert time.monotonic() - started < 0.5
