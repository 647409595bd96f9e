"""The rerank contract (CONTRACT.md), checked for every scorer through every entry point.

Parametrised over ``cases.all_cases()`` x ``entries.ENTRIES``; a new scorer joins by adding a case
module (see ``cases.py``).
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import pytest

from rerank_plugins import (
    METADATA_KEYS,
    ConfigurationError,
    InvalidInputError,
    Scorer,
    TransientError,
)
from tests.contract.cases import QUERY, TEXTS, ScorerCase, all_cases
from tests.contract.entries import ENTRIES, Entry, Outcome


@pytest.fixture(params=all_cases(), ids=lambda c: c.id)
def case(request: pytest.FixtureRequest) -> ScorerCase:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(params=ENTRIES, ids=lambda e: e.id)
def entry(request: pytest.FixtureRequest) -> Entry:
    return request.param  # type: ignore[no-any-return]


def make(case: ScorerCase, behaviour: str, request: pytest.FixtureRequest) -> Scorer:
    scorer = case.make(behaviour, request)
    if scorer is None:
        pytest.skip(
            f"{case.id} has no way to show '{behaviour}'; the core rule is covered by others"
        )
    return scorer


def run(
    entry: Entry,
    scorer: Scorer,
    texts: list[str] = TEXTS,
    query: str | None = QUERY,
    **options: Any,
) -> Outcome:
    return entry.run(entry.build(scorer, **options), query, texts)


def assert_well_formed(out: Outcome, n_in: int) -> None:
    """Subset, no duplicates, scored first by score (ties in retrieval order), then unscored."""
    indices = out.indices
    assert len(set(indices)) == len(indices), "a candidate was duplicated"
    assert all(0 <= i < n_in for i in indices)
    scored = [it for it in out.items if it.score is not None]
    unscored = [it for it in out.items if it.score is None]
    assert out.items == scored + unscored, "unscored candidates must follow scored ones"
    for a, b in zip(scored, scored[1:]):
        assert a.score is not None and b.score is not None
        assert a.score >= b.score, "scores must not increase down the list"
        if a.score == b.score:
            assert a.index < b.index, "ties must keep retrieval order"
    assert [it.index for it in unscored] == sorted(it.index for it in unscored)
    for it in scored:
        assert type(it.score) is float and 0.0 <= it.score <= 1.0
        assert type(it.raw_score) is float and math.isfinite(it.raw_score)
    for it in unscored:
        assert it.raw_score is None


def test_empty_input_returns_empty_without_any_work(case, entry, request):
    scorer = make(case, "ok", request)
    out = run(entry, scorer, texts=[])
    assert out.items == []
    assert case.work(scorer) == 0
    # Even a misconfigured scorer is never touched for empty input.
    broken = case.make("config", request)
    if broken is not None:
        assert run(entry, broken, texts=[]).items == []


@pytest.mark.parametrize("query", [None, "", "   \n\t"])
def test_missing_or_blank_query_is_a_value_error(case, entry, request, query):
    scorer = make(case, "ok", request)
    with pytest.raises(InvalidInputError, match=r"query") as info:
        run(entry, scorer, query=query)
    assert isinstance(info.value, ValueError)
    assert "non-empty string" in str(info.value)
    assert case.work(scorer) == 0


def test_reranks_every_candidate_well_formed(case, entry, request):
    out = run(entry, make(case, "ok", request))
    assert sorted(out.indices) == list(range(len(TEXTS))), "nothing lost, nothing invented"
    assert all(it.score is not None for it in out.items)
    assert_well_formed(out, len(TEXTS))
    if case.ranks_by_words:
        assert out.texts[0] == "red apple pie"
        assert out.texts[-2:] == ["green pear", "blue sky"]  # tie at 0 keeps retrieval order


def test_same_result_from_every_entry_point(case, entry, request):
    reference = run(ENTRIES[0], make(case, "ok", request))
    out = run(entry, make(case, "ok", request))
    assert out.indices == reference.indices
    assert [it.score for it in out.items] == pytest.approx([it.score for it in reference.items])


@pytest.mark.parametrize("top_n", [None, 1, 3, len(TEXTS), 50])
def test_top_n_is_a_prefix_and_clamped(case, entry, request, top_n):
    full = run(entry, make(case, "ok", request))
    out = run(entry, make(case, "ok", request), top_n=top_n)
    expected = len(TEXTS) if top_n is None else min(top_n, len(TEXTS))
    assert out.indices == full.indices[:expected]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("top_n", 0),
        ("top_n", -1),
        ("top_n", True),
        ("top_n", 2.5),
        ("max_candidates", 0),
        ("min_score", 1.5),
        ("min_score", -0.1),
        ("budget_ms", 0),
        ("budget_ms", -5),
        ("on_error", "ignore"),
        ("blend", 1.5),
        ("blend", -0.1),
    ],
)
def test_invalid_options_are_rejected_when_built(case, entry, request, option, value):
    scorer = make(case, "ok", request)
    with pytest.raises(ValueError, match=option):
        entry.build(scorer, **{option: value})
    assert case.work(scorer) == 0


def test_max_candidates_scores_only_the_window(case, entry, request):
    scorer = make(case, "ok", request)
    out = run(entry, scorer, max_candidates=3)
    assert_well_formed(out, len(TEXTS))
    assert sorted(it.index for it in out.items if it.score is not None) == [0, 1, 2]
    assert [it.index for it in out.items[3:]] == list(range(3, len(TEXTS)))
    for it in out.items[3:]:
        assert it.score is None
        if it.metadata is not None:
            assert it.metadata["rerank_scored"] is False
            assert it.metadata["relevance_score"] is None


def test_min_score_drops_only_scored_candidates_below_it(case, entry, request):
    full = run(entry, make(case, "ok", request), max_candidates=4)
    scores = sorted(it.score for it in full.items if it.score is not None)
    floor = scores[len(scores) // 2]
    out = run(entry, make(case, "ok", request), max_candidates=4, min_score=floor)
    assert_well_formed(out, len(TEXTS))
    kept = [it for it in full.items if it.score is None or it.score >= floor]
    assert out.indices == [it.index for it in kept]
    # Unscored candidates are never dropped by min_score, even at 1.0.
    top = run(entry, make(case, "ok", request), max_candidates=4, min_score=1.0)
    assert [it.index for it in top.items if it.score is None] == list(range(4, len(TEXTS)))


def test_budget_runs_out_and_returns_in_time(case, entry, request):
    scorer = make(case, "slow", request)
    started = time.monotonic()
    out = run(entry, scorer, budget_ms=400)
    elapsed = time.monotonic() - started
    assert elapsed < 0.4 + 0.4, f"call took {elapsed:.3f}s for a 400 ms budget"
    assert_well_formed(out, len(TEXTS))
    assert sorted(out.indices) == list(range(len(TEXTS))), "nothing lost when the budget runs out"
    scored = [it for it in out.items if it.score is not None]
    assert 0 < len(scored) < len(TEXTS)
    assert out.stats["budget_exhausted"] is True
    assert out.stats["scored"] == len(scored)


def test_transient_failure_falls_back_with_nothing_lost(case, entry, request, caplog):
    scorer = make(case, "transient", request)
    with caplog.at_level(logging.WARNING, logger="rerank_plugins"):
        out = run(entry, scorer, top_n=5)
    assert out.indices == [0, 1, 2, 3, 4], "unscored candidates keep retrieval order"
    assert all(it.score is None for it in out.items)
    assert out.stats["fallback_reason"]
    assert out.stats["scored"] == 0
    assert any("left unscored" in r.getMessage() for r in caplog.records)


def test_transient_failure_raises_when_asked(case, entry, request):
    scorer = make(case, "transient", request)
    with pytest.raises(TransientError):
        run(entry, scorer, on_error="raise")


def test_configuration_error_is_raised_never_a_fallback(case, entry, request):
    scorer = make(case, "config", request)
    with pytest.raises(ConfigurationError) as info:
        run(entry, scorer, on_error="fallback")
    assert isinstance(info.value, ValueError)


def test_metadata_ids_and_python_floats(case, entry, request):
    scorer = make(case, "ok", request)
    out = run(entry, scorer, max_candidates=6)
    for it in out.items:
        if it.metadata is None:  # the core returns RankedText, checked in assert_well_formed
            continue
        assert set(METADATA_KEYS) <= set(it.metadata)
        assert it.metadata["source"] == f"s{it.index}", "the caller's metadata is kept"
        assert it.id is not None and it.id.endswith(f"-{it.index}"), "ids are kept"
        assert type(it.metadata["retrieval_rank"]) is int
        assert it.metadata["retrieval_score"] == pytest.approx(1 - it.index / 100)
        assert type(it.metadata["retrieval_score"]) is float
        assert it.metadata["reranker"] == scorer.name
        assert it.metadata["rerank_scored"] is (it.score is not None)
        if it.score is not None:
            assert type(it.metadata["relevance_score"]) is float
            assert type(it.metadata["rerank_raw_score"]) is float
    assert out.stats["backend"] == scorer.backend
    assert out.stats["candidates_in"] == len(TEXTS)
    assert out.stats["returned"] == len(out.items)


def test_odd_texts_are_not_errors_and_repeats_are_kept(case, entry, request):
    texts = ["", "apple pie " * 5000, "pâte à tarte aux pommes 🍎 红苹果", "red apple", "red apple"]
    out = run(entry, make(case, "ok", request), texts=texts)
    assert_well_formed(out, len(texts))
    assert sorted(out.indices) == list(range(len(texts)))
    repeated = {it.index: it.score for it in out.items if it.index in (3, 4)}
    assert repeated[3] is not None and repeated[3] == repeated[4]


def test_blend_moves_between_the_scorer_and_the_first_stage(case, entry, request):
    alone = run(entry, make(case, "ok", request))
    # Weight 0: the scorer's order. Weight 1: the first stage's (its scores fall with the
    # retrieval rank in every entry point; the core, given none, uses the rank itself).
    scorer_only = run(entry, make(case, "ok", request), blend=0.0)
    first_only = run(entry, make(case, "ok", request), blend=1.0)
    assert scorer_only.indices == alone.indices
    assert first_only.indices == list(range(len(TEXTS)))
    half = run(entry, make(case, "ok", request), blend=0.5, max_candidates=6)
    assert_well_formed(half, len(TEXTS))
    assert [it.index for it in half.items[6:]] == [6, 7]
