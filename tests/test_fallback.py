"""FallbackScorer: a hosted scorer over real HTTP failing over to the bundled local model inside
the budget, the merge rule (no merge without calibration), stats naming each candidate's scorer,
and bad configuration (each message asserted)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest

from rerank_plugins import (
    Calibration,
    ConfigurationError,
    CrossEncoderScorer,
    FallbackScorer,
    Normalization,
    Reranker,
    Scorer,
    TransientError,
)
from rerank_plugins.testing import KeywordScorer
from rerank_plugins.testing.server import RerankServer
from tests.samples import QUERY, TEXTS

# Generous beside the local model's cost (~0.5 s for these texts on 2 busy cores), so that a CPU
# that slows down mid-call (one local batch may overrun its estimate) stays within the 10%.
BUDGET_MS = 5000


@pytest.fixture(scope="module")
def local() -> CrossEncoderScorer:
    # No score cache: every handover does the model's real work.
    scorer = CrossEncoderScorer("bundled:scifact-minilm", score_cache_size=0)
    scorer.prepare()
    for _ in range(3):
        Reranker(scorer).rerank(QUERY, TEXTS)  # warm: the cost model has measured it
    return scorer


@pytest.fixture(scope="module")
def server():  # type: ignore[no-untyped-def]
    with RerankServer() as s:
        yield s


# -- the goal: a failing hosted scorer hands over inside budget_ms + 10% -------------------
@pytest.mark.parametrize(
    ("fault", "what"),
    [("http_503", "answers 503"), ("slow", "hangs"), ("drop", "hangs up")],
)
def test_a_failing_hosted_scorer_hands_over_to_the_local_model_inside_the_budget(
    server, local, fault, what
):
    hosted = server.scorer_for("cohere", key=server.key_for(fault, delay_s=30.0))
    expected = Reranker(local).rerank(QUERY, TEXTS).indices
    with FallbackScorer([hosted, local]) as chain:
        chain.prepare()  # clients and model built at start-up, outside the budget
        for call in (Reranker(chain).rerank, _sync(Reranker(chain).arerank)):
            started = time.monotonic()
            result = call(QUERY, TEXTS, budget_ms=BUDGET_MS)
            elapsed = time.monotonic() - started
            assert elapsed <= 1.1 * BUDGET_MS / 1000, f"the hosted scorer {what}: {elapsed:.3f}s"
            assert sorted(result.indices) == list(range(len(TEXTS))), "nothing lost"
            # The local model scores what fits in the time the hosted one left it (on a busy
            # CPU that may be fewer than all): in its own order, named in the stats.
            scored = [i for i in result.indices if result.stats.ranked_by[i] is not None]
            assert scored and scored == [i for i in expected if i in scored]
            assert {result.stats.ranked_by[i] for i in scored} == {local.name}


def _sync(acall):  # type: ignore[no-untyped-def]
    return lambda *a, **kw: asyncio.run(acall(*a, **kw))


def test_a_working_hosted_scorer_ranks_everything_itself(server, local):
    hosted = server.scorer_for("cohere")
    chain = FallbackScorer([hosted, local])
    chain.prepare()
    result = Reranker(chain).rerank(QUERY, TEXTS)
    assert result.stats.ranked_by == (hosted.name,) * len(TEXTS)
    assert result.stats.scored == len(TEXTS)


# -- the merge rule ------------------------------------------------------------------------
class Fixed(Scorer):
    """Returns given logits per text (a custom scorer, as a user would write one)."""

    def __init__(self, logits: dict[str, float]) -> None:
        super().__init__()
        self.logits = logits

    @property
    def model(self) -> str:
        return f"fixed-{id(self) % 1000}"

    def score_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> list[float | None]:
        return [self.logits[t] for t in texts]


def test_uncalibrated_scores_are_never_merged_the_first_scorers_lead():
    texts = ["a", "b", "c", "d", "e"]
    # The first scorer fails on its first unit (a, b) and scores c, d, e (all low); the second
    # scores a, b high. Without calibration a and b still follow c, d, e.
    first = KeywordScorer(unit_size=2, fail_first=1, max_retries=0)
    second = Fixed({"a": 1.0, "b": 5.0})
    result = Reranker(FallbackScorer([first, second])).rerank("c d e", texts)
    assert result.indices == [2, 3, 4, 1, 0]
    assert result.stats.ranked_by == (
        second.name,
        second.name,
        first.name,
        first.name,
        first.name,
    )
    assert result.items[3].score is not None and result.items[3].score > result.items[0].score


def test_calibrated_scorers_merge_into_one_order():
    texts = ["a", "b", "c"]

    def platt(scorer: Scorer, a: float, b: float) -> Calibration:
        """A Platt map fit for ``scorer`` (as `rerank-plugins calibrate` would write one)."""
        kind = Normalization(scorer.normalization).value
        return Calibration("platt", {"a": a, "b": b}, scorer.backend, scorer.model, kind)

    first = KeywordScorer(unit_size=1, fail_first=1, max_retries=0)
    first.calibration = platt(first, 10.0, -5.0)  # keyword overlap 1.0 -> 0.993, 0.0 -> 0.007
    second = Fixed({"a": 5.0})
    second.calibration = platt(second, 1.0, -0.5)  # logit 5.0 -> 0.989
    chain = FallbackScorer([first, second])
    assert chain.calibrated
    result = Reranker(chain).rerank("b", texts)
    # Merged by calibrated score: b (0.993, first scorer), a (0.989, second), c (0.007, first).
    assert result.indices == [1, 0, 2]
    assert result.stats.ranked_by == (second.name, first.name, first.name)


# -- failures, configuration, resources ------------------------------------------------------
def test_every_scorer_failing_is_one_transient_failure():
    chain = FallbackScorer([KeywordScorer(fail_always=True), KeywordScorer(fail_always=True)])
    result = Reranker(chain).rerank("cats", ["dogs", "cats"])
    assert result.indices == [0, 1] and result.stats.scored == 0
    assert "every scorer of the chain failed" in (result.stats.fallback_reason or "")
    with pytest.raises(TransientError, match="every scorer of the chain failed: keyword"):
        Reranker(chain, on_error="raise").rerank("cats", ["dogs", "cats"])


def test_a_rejected_key_is_raised_never_handed_over(server):
    hosted = server.scorer_for("cohere", key="not-a-valid-key")
    backup = KeywordScorer()
    with pytest.raises(ConfigurationError, match="rejected the API key"):
        Reranker(FallbackScorer([hosted, backup])).rerank("cats", ["dogs", "cats"])
    assert backup.calls == 0


@pytest.mark.parametrize(
    ("scorers", "message"),
    [
        ([KeywordScorer()], "needs at least two scorers, got 1"),
        ([], "needs at least two scorers, got 0"),
        ("keyword", "needs a list of scorers, got str"),
        ([KeywordScorer(), "keyword"], "chains rerank_plugins scorers, got str"),
    ],
)
def test_bad_chains_are_refused_with_the_fix(scorers, message):
    with pytest.raises(ConfigurationError) as info:
        FallbackScorer(scorers)
    assert message in str(info.value) and "pass e.g." in str(info.value)


def test_the_same_scorer_twice_is_refused():
    one = KeywordScorer()
    with pytest.raises(ConfigurationError, match="got the same scorer twice; list each scorer"):
        FallbackScorer([one, one])


def test_close_releases_every_scorer_of_the_chain(server):
    hosted = server.scorer_for("tei")
    chain = FallbackScorer([hosted, KeywordScorer()])
    Reranker(chain).rerank("cats", ["dogs", "cats"])
    assert hosted.open_clients["sync"] == 1
    chain.close()
    assert hosted.open_clients["sync"] == 0
    assert "tei:tei > keyword:word-overlap" in chain.name
