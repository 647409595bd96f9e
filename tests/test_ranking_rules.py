"""The core's ranking rules, called directly: no threads, no clock, no scorer.

They are the private module ``rerank_plugins._ranking`` (the pure half of a call); the contract
suite checks the same rules end to end through every scorer and adapter.
"""

from __future__ import annotations

import math

import pytest

from rerank_plugins import Normalization, RankedText, fit_calibration
from rerank_plugins._ranking import blend_scores, blended, collect, cut, normalised, order


def _items(*scores: float | None) -> list[RankedText]:
    return [
        RankedText(i, f"t{i}", score, None if score is None else score * 10)
        for i, score in enumerate(scores)
    ]


def test_normalised_keeps_logits_as_the_signal_and_shows_their_sigmoid():
    signals, scores = normalised([2.0, None, -2.0], Normalization.SIGMOID, None)
    assert signals == [2.0, None, -2.0]
    assert scores[1] is None
    assert scores[0] == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert scores[2] == pytest.approx(1 - scores[0])  # type: ignore[operator]
    assert all(type(s) is float for s in scores if s is not None)


def test_normalised_clamps_relevances_and_ranks_over_the_scored_only():
    assert normalised([1.5, -0.2, None], "identity", None) == ([1.0, 0.0, None], [1.0, 0.0, None])
    # A listwise rank is 1 - rank / n, n counting the scored texts alone.
    assert normalised([None, 0, 1], Normalization.RANK, None)[1] == [None, 1.0, 0.5]


def test_normalised_with_a_calibration_shows_probabilities_and_keeps_the_signal():
    calibration = fit_calibration(
        [-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], [0, 0, 1, 0, 1, 1], backend="b", model="m"
    )
    signals, scores = normalised([-3.0, 3.0], Normalization.SIGMOID, calibration)
    assert signals == [-3.0, 3.0]
    assert scores == calibration.apply([-3.0, 3.0])
    assert scores[0] < scores[1]  # type: ignore[operator]


def test_collect_gives_repeated_texts_their_one_score_and_leaves_the_rest_unscored():
    texts = ["a", "b", "a", "c", "d"]
    scored, unscored, at = collect(
        texts, texts, 4, ["a", "b", "c"], [1.0, None, 3.0], [0.7, None, 0.9]
    )
    assert [(it.index, it.score, it.raw_score) for it in scored] == [
        (0, 0.7, 1.0),
        (2, 0.7, 1.0),
        (3, 0.9, 3.0),
    ]
    # "b" came back unscored, "d" is beyond the window (max_candidates): both keep their order.
    assert [(it.index, it.scored) for it in unscored] == [(1, False), (4, False)]
    assert at == {0: 0, 2: 0, 3: 2}
    # The result shows the caller's text, even where the scorer read a sanitised key.
    scored, _, _ = collect(["x\ud800"], ["x\ufffd"], 1, ["x\ufffd"], [0.0], [0.5])
    assert scored[0].text == "x\ud800"


def test_order_sorts_by_group_then_score_then_signal_then_retrieval_order():
    items = _items(0.5, 0.9, 0.5, 1.0, 1.0)
    signals = {0: 0.0, 1: 2.0, 2: 0.0, 3: 8.0, 4: 9.0}
    # Indices 3 and 4 tie on a saturated score: the signal breaks it; 0 and 2 tie on both.
    assert [it.index for it in order(items, signals, {})] == [4, 3, 1, 0, 2]
    # A composite's groups lead, whatever the scores.
    assert [it.index for it in order(items, signals, {3: 1, 4: 1})] == [1, 0, 2, 4, 3]
    assert [it.index for it in items] == [0, 1, 2, 3, 4]  # the input is not sorted in place


def test_cut_filters_scored_candidates_then_keeps_top_n():
    ranked = _items(0.9, 0.3, None, 0.6)
    assert [it.index for it in cut(ranked, min_score=0.5, top_n=None)] == [0, 2, 3]
    assert [it.index for it in cut(ranked, min_score=0.5, top_n=2)] == [0, 2]
    assert [it.index for it in cut(ranked, min_score=None, top_n=10)] == [0, 1, 2, 3]
    assert cut(ranked, min_score=None, top_n=None) is not ranked


def test_blended_mixes_the_first_stage_in_and_falls_back_to_retrieval_order():
    items = _items(0.9, 0.1)
    signals = {0: 2.0, 1: -2.0}
    alone = blended(items, signals, [0.0, 1.0], 0.0)
    assert alone[0].score > alone[1].score  # type: ignore[operator]
    first_stage = blended(items, signals, [0.0, 1.0], 1.0)
    assert first_stage[0].score < first_stage[1].score  # type: ignore[operator]
    # Without a first-stage score for each, the retrieval order is the prior: 0 before 1.
    by_order = blended(items, signals, [None, 1.0], 1.0)
    assert by_order[0].score > by_order[1].score  # type: ignore[operator]
    assert [it.raw_score for it in first_stage] == [it.raw_score for it in items]


def test_blend_scores_standardises_per_query_and_never_overflows():
    assert blend_scores([5.0, 5.0], [1.0, 2.0], 0.0) == [0.5, 0.5]
    out = blend_scores([1e308, -1e308], [0.0, 0.0], 0.0)
    assert all(math.isfinite(x) and 0.0 <= x <= 1.0 for x in out) and out[0] > out[1]
