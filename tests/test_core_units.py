"""How the core reads what a unit returns: gaps, the budget flag, billing, cost estimates."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from rerank_plugins import Deadline, Normalization, Reranker, Scorer, Unit, UnitScores


class GappyScorer(Scorer):
    """Scores every other text; says whether the gaps were the budget's doing."""

    backend = "gappy"
    normalization = Normalization.IDENTITY
    unit_size = 4

    def __init__(self, budget: bool) -> None:
        self.budget = budget

    @property
    def model(self) -> str:
        return "gaps"

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        scores = [0.5 if i % 2 == 0 else None for i in range(len(texts))]
        return UnitScores(scores, billed={"tokens": 10}, budget_exhausted=self.budget)


@pytest.mark.parametrize("budget", [True, False])
def test_unscored_gaps_are_reported(budget):
    result = Reranker(GappyScorer(budget)).rerank("q", [f"t{i}" for i in range(8)])
    assert result.indices == [0, 2, 4, 6, 1, 3, 5, 7]
    assert result.stats.scored == 4 and result.stats.units == 2
    assert result.stats.billed == {"tokens": 20.0}
    assert result.stats.budget_exhausted is budget
    if budget:
        assert result.stats.fallback_reason is None
    else:
        assert result.stats.fallback_reason == (
            "partial: gappy:gaps left 2 of 4 texts of a unit unscored"
        )


class WrongLength(GappyScorer):
    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        return UnitScores([0.1])


def test_a_scorer_returning_the_wrong_count_is_a_bug_said_loudly():
    with pytest.raises(RuntimeError, match=r"WrongLength.score_unit returned 1 scores for 4 texts"):
        Reranker(WrongLength(False)).rerank("q", ["a", "b", "c", "d"])


class _OneMethod(Scorer):
    """The smallest scorer there is: one method, returning a plain list."""

    normalization = Normalization.IDENTITY

    def score_unit(self, query, texts, *, timeout):  # type: ignore[no-untyped-def]
        return [min(1.0, len(set(query.split()) & set(t.split())) / 2) for t in texts]


async def test_a_scorer_is_one_method_returning_a_list():
    from rerank_plugins.langchain import RerankCompressor
    from rerank_plugins.llama_index import RerankPostprocessor

    scorer = _OneMethod()
    texts = ["red apple", "blue sky", "red car", "apple pie red"]
    result = Reranker(scorer, top_n=2).rerank("red apple", texts)
    assert result.indices == [0, 3] and result.stats.model == "_OneMethod"
    assert (await Reranker(scorer, top_n=2).arerank("red apple", texts)).indices == [0, 3]
    from langchain_core.documents import Document

    docs = RerankCompressor(scorer=scorer, top_n=2).compress_documents(
        [Document(page_content=t) for t in texts], "red apple"
    )
    assert [d.page_content for d in docs] == ["red apple", "apple pie red"]
    assert RerankPostprocessor(scorer=scorer, top_n=2).model_dump()["top_n"] == 2


def test_a_scorer_returning_something_else_is_told_what_to_return():
    class Wrong(_OneMethod):
        def score_unit(self, query, texts, *, timeout):  # type: ignore[no-untyped-def]
            return "0.5"

    with pytest.raises(TypeError, match="return one raw score per text"):
        Reranker(Wrong()).rerank("q", ["a"])


async def test_the_core_hands_each_unit_the_calls_one_deadline():
    # The deadline's one channel is the ``timeout`` argument: each unit's timeout, read when it
    # arrives, points at the same end (the call's one deadline).
    seen: list[tuple[Deadline, float | None]] = []

    class Watching(_OneMethod):
        unit_size = 1

        def score_unit(self, query, texts, *, timeout):  # type: ignore[no-untyped-def]
            seen.append((Deadline.after(timeout), timeout))
            return super().score_unit(query, texts, timeout=timeout)

    def ends() -> list[float]:
        return [d.end for d, _ in seen]  # type: ignore[misc]

    texts = ["red apple", "blue sky", "red car"]
    Reranker(Watching(), budget_ms=5000).rerank("red apple", texts)
    first = ends()
    assert len(seen) == 3 and max(first) - min(first) < 0.05, "one deadline for the whole call"
    deadline, timeout = seen[-1]
    assert timeout is not None and abs(deadline.left() - timeout) < 0.5  # type: ignore[operator]
    seen.clear()
    await Reranker(Watching(), budget_ms=5000).arerank("red apple", texts)
    second = ends()
    assert max(second) - min(second) < 0.05 and min(second) > max(first)  # a new call's own
    seen.clear()
    Reranker(Watching()).rerank("red apple", texts)
    assert all(d.left() is None for d, _ in seen)
    # Outside the core (a scorer called directly), a deadline from the timeout it was given.
    assert 0 < Deadline.after(2.0).left() <= 2.0  # type: ignore[operator]
    # The helper scorers written against earlier versions call, now the same thing.
    from rerank_plugins._deadline import current

    assert 0 < current(2.0).left() <= 2.0  # type: ignore[operator]


def test_a_plan_whose_work_is_not_finite_is_told_so():
    class Infinite(_OneMethod):
        def work(self, query: str, texts: Sequence[str]) -> list[float]:
            return [math.inf] * len(texts)

    with pytest.raises(
        RuntimeError, match=r"Infinite.plan gave a unit of 2 texts the work \[inf, inf\]; it must"
    ):
        Reranker(Infinite()).rerank("q", ["a", "b"])


def test_the_core_asks_the_scorer_for_its_plan_once_per_call():
    plans: list[list[str]] = []

    class Planning(_OneMethod):
        unit_size = 1

        def plan(self, query: str, texts: Sequence[str]) -> list[Unit]:
            plans.append(list(texts))
            # Backwards: the plan's order is the order the units are scored in.
            return [Unit([i], [1.0]) for i in reversed(range(len(texts)))]

        def score_unit(self, query, texts, *, timeout):  # type: ignore[no-untyped-def]
            order.extend(texts)
            return super().score_unit(query, texts, timeout=timeout)

    order: list[str] = []
    Reranker(Planning(), budget_ms=5000).rerank("red", ["red", "blue", "red", "green"])
    assert plans == [["red", "blue", "green"]]  # the unique texts, once
    assert order == ["green", "blue", "red"]


class _SelfAdmitting(_OneMethod):
    """Admits its own work per "pass" (one text): scores the first ``room`` texts it is handed
    in a call, leaves the rest out as the budget's doing, and never asks the cost model."""

    admits_own_work = True
    unit_size = 2

    def __init__(self, room: int) -> None:
        self.room = room
        self.handed: list[list[str]] = []

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        self.handed.append(list(texts))
        room, self.room = self.room, max(0, self.room - len(texts))
        scores = [0.5 if i < room else None for i in range(len(texts))]
        return UnitScores(scores, budget_exhausted=None in scores)


def test_a_scorer_that_admits_its_own_work_is_not_second_guessed_by_the_cost_model():
    scorer = _SelfAdmitting(room=3)
    # An estimate that says nothing fits: the core alone would refuse every unit before it ran.
    scorer.cost.observe(1.0, 1000.0)
    result = Reranker(scorer, budget_ms=5000).rerank("q", ["a", "b", "c", "d", "e", "f"])
    # Whole units while time is left; after the one that came back short, no later unit starts.
    assert scorer.handed == [["a", "b"], ["c", "d"]]
    assert result.stats.scored == 3 and result.stats.budget_exhausted
    assert result.indices == [0, 1, 2, 3, 4, 5]


def test_without_the_flag_the_core_asks_the_cost_model_before_a_unit():
    class Asked(_SelfAdmitting):
        admits_own_work = False

    scorer = Asked(room=3)
    scorer.cost.observe(1.0, 1000.0)
    result = Reranker(scorer, budget_ms=5000).rerank("q", ["a", "b", "c", "d", "e", "f"])
    assert scorer.handed == [] and result.stats.scored == 0 and result.stats.budget_exhausted
