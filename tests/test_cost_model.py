"""One cost model per scorer: the core, the micro-batcher and the LLM judge ask and teach it.

Each scorer declares its unit of work (:meth:`Scorer.work`: texts by default, tokens for the
local cross-encoder, LLM calls for the judge); a unit, a forward pass and an LLM call are all
samples of the same estimate, and every place that decides whether work still fits asks it. What
it learns recovers wherever the refusal comes from.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rerank_plugins import Deadline, LLMJudgeScorer, Reranker
from rerank_plugins._cost import CostModel  # the private module under test
from rerank_plugins.scorers.local import EncodedPair, MicroBatcher
from rerank_plugins.testing import KeywordScorer
from tests._local import seeded_scorer

QUERY = "does aspirin reduce the risk of heart attack"
TEXTS = [
    "Aspirin lowers the risk of myocardial infarction in men. " * 12,
    "The Eiffel tower is in Paris.",
    "Low-dose aspirin and cardiovascular events: a randomised trial.",
]


def test_a_steady_backend_needs_no_margin_and_an_erratic_one_gets_room():
    steady, erratic = CostModel(), CostModel()
    assert steady.margin == CostModel.FIRST_MARGIN  # room for what nothing has measured yet
    for seconds in [0.1] * 120:
        steady.observe(10, seconds)
    for seconds in [0.05, 0.2] * 60:
        erratic.observe(10, seconds)
    assert steady.margin == pytest.approx(1.0)
    assert 1.5 < erratic.margin <= CostModel.MAX_MARGIN
    # The margin is what a fit needs: 9 units of work at 10 ms each fit in 100 ms steadily.
    assert steady.fitting(0.1, [1.0] * 20) == 10
    assert erratic.fitting(0.1, [1.0] * 20) < 10


@given(
    slow=st.floats(0.5, 100.0),
    fast=st.floats(1e-4, 1e-2),
)
def test_one_slow_sample_is_forgotten_within_a_few_fast_ones(slow: float, fast: float) -> None:
    cost = CostModel()
    cost.observe(1, fast)
    cost.observe(1, slow)
    for _ in range(60):
        cost.observe(1, fast)
    per = cost.per_work
    assert per is not None and math.isfinite(per)
    assert per < 1.01 * fast + 1e-9
    assert cost.margin < CostModel.FIRST_MARGIN


def test_relax_quarters_the_estimate_and_reset_forgets_it():
    cost = CostModel()
    cost.observe(4, 2.0)
    cost.relax()
    assert cost.expected(4) == pytest.approx(0.5)
    assert cost.probing  # the next work is a probe, until something measures it
    margin = cost.margin
    cost.observe(1, 0.5)  # 4x the relaxed estimate: says nothing about variance
    assert not cost.probing and cost.margin == margin
    cost.reset()
    assert cost.expected(4) is None and cost.fits(Deadline.after(0.001), 1e9)


def test_unmeasured_work_always_starts_but_not_past_the_deadline():
    cost = CostModel()
    assert cost.fits(Deadline.after(10.0), 1e9)
    assert cost.fits(Deadline(None), 1e9)
    assert not cost.fits(Deadline(time.monotonic() - 1.0), 1.0)


# --- the core: units teach it, in the scorer's unit of work -----------------------------------


class _Weighted(KeywordScorer):
    """A keyword scorer whose texts cost their length: work = characters."""

    def work(self, query: str, texts: object) -> list[float]:
        return [float(len(t)) for t in texts]  # type: ignore[attr-defined]


def test_the_core_learns_per_unit_of_work_and_admits_by_it():
    scorer = _Weighted(unit_size=10, delay_s=0.05)
    # 4 texts of 100 characters, 6 of 8 (distinct: the core scores a repeated text once)
    texts = [f"apples{i} " + "x" * 92 for i in range(4)] + [f"apples{i}" for i in range(10, 16)]
    Reranker(scorer).rerank("apples", texts)
    assert scorer.cost.samples == 1
    per = scorer.cost.per_work
    assert per == pytest.approx(0.05 / (4 * 100 + 6 * 8), rel=0.5)
    # A budget that covers 2 long texts admits 2 of them (never all 10: the count alone would).
    result = Reranker(scorer, budget_ms=0.05 * 200 / 448 * 1000 * 1.05).rerank(
        "apples", [f"apples {i} " + "x" * 90 for i in range(10)]
    )
    assert 1 <= result.stats.scored <= 3


def test_a_scorer_whose_work_is_wrong_is_told_so():
    class Broken(KeywordScorer):
        def work(self, query: str, texts: object) -> list[float]:
            return [1.0]

    with pytest.raises(RuntimeError, match=r"Broken.work returned 1 values for 3 texts"):
        Reranker(Broken(), budget_ms=1000).rerank("apples", ["a", "b", "c"])


# --- the micro-batcher: the scorer's model, taught by each pass --------------------------------


def _pairs(tag: int, n: int, length: int = 2) -> list[EncodedPair]:
    return [EncodedPair([tag, j] + [0] * (length - 2), [0] * length) for j in range(n)]


def test_each_pass_teaches_the_cost_model_it_was_given_in_padded_tokens():
    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        time.sleep(0.001 * max(len(p) for p in pairs) * len(pairs))
        return [[0.0] for _ in pairs]

    cost = CostModel()
    batcher = MicroBatcher(forward, cost=cost, max_tokens=10_000, max_size=4)
    batcher.run(_pairs(1, 4, length=10), timeout=None)  # one pass: 4 x 10 padded tokens
    assert cost.samples == batcher.passes == 1
    assert cost.per_work == pytest.approx(0.001, rel=0.5)


def test_a_batcher_locked_out_by_one_slow_pass_runs_again():
    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        time.sleep(0.002)
        return [[1.0] for _ in pairs]

    cost = CostModel()
    batcher = MicroBatcher(forward, cost=cost, max_tokens=1_000, max_size=8)
    cost.observe(2, 20.0)  # one pause: 10 s per token, far past a 200 ms deadline
    outcomes = [batcher.run(_pairs(2, 4), timeout=0.2) for _ in range(8)]
    tried = [i for i, rows in enumerate(outcomes) if any(row is not None for row in rows)]
    assert tried, "the estimate only ever said no"
    assert tried[0] <= 6  # quartered per refusal: 10 s/token -> under 25 ms/token in 6 calls
    assert all(row == [1.0] for row in outcomes[-1])  # measured again: fast, all scored


def test_the_cross_encoder_has_one_cost_model_in_tokens(loaded_cross_encoder, tmp_path: Path):
    scorer = seeded_scorer("torch", loaded_cross_encoder, tmp_path)
    scorer.prepare()
    assert scorer.engine.batcher.cost is scorer.cost  # the batcher asks the scorer's model
    work = scorer.work(QUERY, TEXTS)
    assert work[0] > work[2] > work[1] > 0  # longer texts cost more
    Reranker(scorer).rerank(QUERY, TEXTS)
    # Passes, not units, taught it (the core leaves a scorer that learns its own cost alone).
    assert scorer.cost.samples == scorer.forward_passes >= 1
    assert scorer.work(QUERY, TEXTS) == [0.0, 0.0, 0.0]  # cached: nothing left to run


def test_the_windows_a_passage_needs_are_work_too(loaded_cross_encoder, tmp_path: Path):
    scorer = seeded_scorer(
        "torch", loaded_cross_encoder, tmp_path, max_length=64, long_passages="windows",
        max_windows=4,
    )  # fmt: skip
    truncating = seeded_scorer("torch", loaded_cross_encoder, tmp_path, max_length=64)
    long = TEXTS[0]
    assert scorer.work(QUERY, [long])[0] > 2 * truncating.work(QUERY, [long])[0]
    assert scorer.work(QUERY, [TEXTS[1]]) == truncating.work(QUERY, [TEXTS[1]])


# --- the LLM judge: each call teaches the scorer's model, in LLM calls --------------------------


class _Clock:
    def __init__(self, seconds: list[float]) -> None:
        self.seconds = seconds
        self.calls = 0

    def __call__(self, prompt: str) -> str:
        time.sleep(self.seconds[min(self.calls, len(self.seconds) - 1)])
        self.calls += 1
        return "\n".join(f"[{i}] 3" for i in range(1, 9))


def test_each_llm_call_teaches_the_judges_cost_model():
    llm = _Clock([0.01])
    judge = LLMJudgeScorer(llm, mode="pointwise", candidates_per_prompt=2)
    assert judge.work("q", ["a", "b", "c", "d"]) == [0.5] * 4  # two texts per call
    Reranker(judge).rerank("q", ["a", "b", "c", "d"])
    assert judge.cost.samples == llm.calls == 2
    assert judge.cost.per_work == pytest.approx(0.01, rel=1.0)


def test_a_judge_taught_one_slow_call_scores_again():
    llm = _Clock([0.001])
    judge = LLMJudgeScorer(llm, mode="pointwise", candidates_per_prompt=4)
    judge.cost.observe(1.0, 5.0)  # one 5 s call: far past a 300 ms budget
    reranker = Reranker(judge, budget_ms=300)
    scored = [reranker.rerank("q", ["a", "b", "c", "d"]).stats.scored for _ in range(6)]
    assert scored[-1] == 4, scored
    assert scored.index(4) <= 4  # the estimate decays per refusal, then is measured again


class _Recording(KeywordScorer):
    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.sizes: list[int] = []

    def score_unit(self, query: str, texts: object, *, timeout: float | None) -> object:  # type: ignore[override]
        self.sizes.append(len(texts))  # type: ignore[arg-type]
        return super().score_unit(query, texts, timeout=timeout)  # type: ignore[arg-type]


def test_a_call_the_estimate_refuses_stops_and_the_next_call_probes_with_one_text():
    scorer = _Recording(unit_size=4, delay_s=0.02)
    texts = [f"apples {i}" for i in range(8)]
    Reranker(scorer).rerank("apples", texts)  # 20 ms per unit of 4
    scorer.cost.observe(4, 4.0)  # one pause: 1 s per text, past a 100 ms budget
    reranker = Reranker(scorer, budget_ms=100)
    scorer.sizes.clear()
    refused = reranker.rerank("apples", texts)
    # Refused on the estimate: nothing started, no later unit either (candidates go in order).
    assert refused.stats.scored == 0 and scorer.sizes == []
    later = [reranker.rerank("apples", texts) for _ in range(4)]
    assert scorer.sizes[0] == 1  # the probe: one text, not a unit of 4
    # Measured again: fast, scoring resumes (this scorer's delay is per unit, so a unit of one
    # text teaches a per-text cost four times too high; later units bring it down).
    assert later[-1].stats.scored >= 6 and later[-1].stats.latency_ms < 100 + 20 + 10


def test_an_unmeasured_batcher_under_a_deadline_first_runs_a_quarter_pass():
    sizes: list[int] = []

    def forward(pairs: list[EncodedPair]) -> list[list[float]]:
        sizes.append(len(pairs))
        return [[1.0] for _ in pairs]

    batcher = MicroBatcher(forward, cost=CostModel(), max_tokens=80, max_size=64)
    rows = batcher.run(_pairs(1, 8, length=10), timeout=60.0)  # 80 tokens: one pass's worth
    assert sizes[0] == 2 and sum(sizes) == 8  # 20 tokens first, then the estimate decides
    assert all(row == [1.0] for row in rows)
    unbudgeted = MicroBatcher(forward, cost=CostModel(), max_tokens=80, max_size=64)
    sizes.clear()
    unbudgeted.run(_pairs(1, 8, length=10), timeout=None)
    assert sizes == [8]  # no deadline to keep: a whole pass at once
