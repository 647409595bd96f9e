"""Property tests of the core's ordering invariants, on random scores, ties and sizes."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from rerank_plugins import Normalization, Reranker, Scorer, UnitScores


class TableScorer(Scorer):
    """Scores each text by looking it up in a table (texts are their own keys)."""

    backend = "table"
    normalization = Normalization.IDENTITY

    def __init__(self, table: dict[str, float | None], unit_size: int) -> None:
        self.table = table
        self.unit_size = unit_size

    @property
    def model(self) -> str:
        return "table"

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        return UnitScores([self.table[t] for t in texts])


# Few distinct scores so that ties are common; None = the backend could not score that text.
scores = st.one_of(st.none(), st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[str], dict[str, float | None], dict[str, object]]:
    n = draw(st.integers(0, 30))
    # Texts may repeat: t0..t9 drawn with replacement.
    texts = [f"t{draw(st.integers(0, 9))}" for _ in range(n)]
    table = {f"t{i}": draw(scores) for i in range(10)}
    options = {
        "top_n": draw(st.one_of(st.none(), st.integers(1, 40))),
        "max_candidates": draw(st.one_of(st.none(), st.integers(1, 40))),
        "min_score": draw(st.one_of(st.none(), st.sampled_from([0.0, 0.3, 0.5, 1.0]))),
    }
    return texts, table, options


@settings(max_examples=300, deadline=None)
@given(problems(), st.integers(1, 7))
def test_ordering_invariants(problem, unit_size):
    texts, table, options = problem
    result = Reranker(TableScorer(table, unit_size), **options).rerank("q", texts)  # type: ignore[arg-type]
    items = result.items
    indices = [it.index for it in items]
    window = options["max_candidates"] or len(texts)

    # A subset of the input: nothing invented, nothing duplicated.
    assert len(set(indices)) == len(indices)
    assert all(texts[it.index] == it.text for it in items)

    scored = [it for it in items if it.score is not None]
    unscored = [it for it in items if it.score is None]
    assert items == scored + unscored
    # Scores never increase down the list; ties keep retrieval order.
    for a, b in zip(scored, scored[1:]):
        assert (a.score, -a.index) >= (b.score, -b.index)
    # Unscored follow in retrieval order; only the window is ever scored.
    assert [it.index for it in unscored] == sorted(it.index for it in unscored)
    assert all(it.index < window for it in scored)
    # Repeated texts get the same score.
    by_text = {}
    for it in scored:
        assert by_text.setdefault(it.text, it.score) == it.score

    # min_score drops only scored candidates below it; top_n is a prefix of the uncut list.
    uncut = (
        Reranker(TableScorer(table, unit_size), max_candidates=options["max_candidates"])
        .rerank("q", texts)
        .items
    )  # type: ignore[arg-type]
    floor = options["min_score"]
    expected = [it for it in uncut if floor is None or it.score is None or it.score >= floor]
    top_n = options["top_n"]
    assert items == (expected if top_n is None else expected[:top_n])
    # Nothing lost except by top_n or min_score.
    assert len(uncut) == len(texts)
    assert result.stats.returned == len(items)
    assert result.stats.scored == sum(1 for it in uncut if it.score is not None)
