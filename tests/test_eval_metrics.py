"""The metrics against ranx (an established IR evaluation library) on the same runs."""

from __future__ import annotations

import random
from typing import Any

import pytest

from rerank_plugins.evaluation.metrics import (
    evaluate_ranking,
    evaluate_run,
    mean,
    mrr_at,
    ndcg_at,
    parse_metric,
    precision_at,
    recall_at,
)

ranx = pytest.importorskip("ranx")

# our name -> ranx's name
PAIRS = {
    "P@1": "precision@1",
    "P@3": "precision@3",
    "P@5": "precision@5",
    "nDCG@10": "ndcg@10",
    "nDCG@3": "ndcg@3",
    "MRR@10": "mrr@10",
    "Recall@5": "recall@5",
    "Recall@20": "recall@20",
}


def _random_case(seed: int) -> tuple[dict[str, list[str]], dict[str, dict[str, int]]]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(60)]
    run: dict[str, list[str]] = {}
    qrels: dict[str, dict[str, int]] = {}
    for q in range(25):
        qid = f"q{q}"
        run[qid] = rng.sample(docs, rng.randint(1, 25))
        judged = rng.sample(docs, rng.randint(1, 8))
        # graded relevance, with some explicit non-relevant (0) judgements
        qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3]) for d in judged}
        if all(v == 0 for v in qrels[qid].values()):
            qrels[qid][judged[0]] = 1
    return run, qrels


def _ranx_all(
    run: dict[str, list[str]], qrels: dict[str, dict[str, int]]
) -> dict[str, dict[str, float]]:
    """ranx's per-query values for every metric of PAIRS (ranx name -> query id -> value)."""
    # ranx takes scores; give strictly decreasing ones so its order is exactly ours
    r = ranx.Run({q: {d: float(len(ds) - i) for i, d in enumerate(ds)} for q, ds in run.items()})
    qr = ranx.Qrels({q: {d: v for d, v in j.items() if v > 0} for q, j in qrels.items()})
    values = ranx.evaluate(qr, r, list(PAIRS.values()), return_mean=False)
    order = sorted(run)  # ranx reports queries in sorted id order
    return {m: dict(zip(order, map(float, v), strict=True)) for m, v in values.items()}


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_matches_ranx_on_random_runs(seed: int) -> None:
    run, qrels = _random_case(seed)
    expected = _ranx_all(run, qrels)
    got = evaluate_run(run, qrels, list(PAIRS))
    for ours, theirs in PAIRS.items():
        assert got[ours] == pytest.approx(expected[theirs], abs=1e-9), ours
        assert mean(got[ours]) == pytest.approx(mean(expected[theirs]), abs=1e-12)


def test_edge_cases_match_ranx() -> None:
    # relevant doc at the very end, short rankings, relevant docs never retrieved, one doc only
    run = {
        "a": ["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "r"],
        "b": ["r"],
        "c": ["x1", "x2"],
        "d": ["r1", "r2", "r3", "r4", "r5", "r6"],
    }
    qrels = {
        "a": {"r": 2},
        "b": {"r": 1, "missing": 3},
        "c": {"r": 1},
        "d": {f"r{i}": 1 for i in range(1, 7)},
    }
    expected = _ranx_all(run, qrels)
    got = evaluate_run(run, qrels, list(PAIRS))
    for ours, theirs in PAIRS.items():
        assert got[ours] == pytest.approx(expected[theirs], abs=1e-9), ours


def test_hand_computed_values() -> None:
    ranking = ["x", "a", "y", "b"]
    qrels = {"a": 1, "b": 1, "c": 1, "x": 0}
    assert precision_at(ranking, qrels, 3) == pytest.approx(1 / 3)
    assert precision_at(ranking, qrels, 10) == pytest.approx(2 / 10)  # divided by k, like trec_eval
    assert recall_at(ranking, qrels, 4) == pytest.approx(2 / 3)
    assert mrr_at(ranking, qrels, 1) == 0.0
    assert mrr_at(ranking, qrels, 2) == 0.5
    dcg = 1 / 1.5849625007211562 + 1 / 2.321928094887362
    idcg = 1 + 1 / 1.5849625007211562 + 1 / 2.0
    assert ndcg_at(ranking, qrels, 10) == pytest.approx(dcg / idcg)


def test_no_relevant_document_scores_zero_everywhere() -> None:
    out = evaluate_ranking(["a", "b"], {"a": 0}, ["P@1", "nDCG@10", "MRR@10", "Recall@5"])
    assert out == {"P@1": 0.0, "nDCG@10": 0.0, "MRR@10": 0.0, "Recall@5": 0.0}
    assert evaluate_ranking([], {"a": 1}, ["P@3", "nDCG@10"]) == {"P@3": 0.0, "nDCG@10": 0.0}


def test_bad_metric_and_bad_ranking_are_clear_errors() -> None:
    with pytest.raises(ValueError, match=r"Unknown metric 'ndcg10'; use P@k, nDCG@k"):
        parse_metric("ndcg10")
    with pytest.raises(ValueError, match=r"Unknown metric 'P@0'"):
        parse_metric("P@0")
    with pytest.raises(ValueError, match=r"lists document 'a' twice"):
        precision_at(["a", "b", "a"], {"a": 1}, 3)
    with pytest.raises(ValueError, match=r"cutoff k must be a positive integer, got 0"):
        precision_at(["a"], {"a": 1}, 0)


def test_inputs_are_not_mutated() -> None:
    run = {"q": ["a", "b"]}
    qrels = {"q": {"b": 1}}
    evaluate_run(run, qrels, ["P@1", "nDCG@10"])
    assert run == {"q": ["a", "b"]} and qrels == {"q": {"b": 1}}


def _one_query_view(
    relevant: str, after: list[str], before: dict[str, float], now: dict[str, float]
) -> Any:
    """The report's view of one query over twelve passages ``d0..d11`` (retrieved in that
    order), ``relevant`` the one judged relevant, reranked to ``after``, with the metrics
    ``before`` and ``now``."""
    from rerank_plugins.evaluation.beir import BeirDataset
    from rerank_plugins.evaluation.run import QueryOutcome, _view

    docs = [f"d{i}" for i in range(12)]
    dataset = BeirDataset(
        corpus={d: (f"title {d}", "text") for d in docs},
        queries={"q": "a claim"},
        qrels={"q": {relevant: 1}},
        query_lines={"q": 0},
    )
    outcome = QueryOutcome(
        query_id="q",
        query="a claim",
        before=docs,
        after=after,
        scores=[1.0 - i / 20 for i in range(12)],
        relevant={relevant: 1},
        metrics_before=before,
        metrics_after=now,
        latency_ms=1.0,
        budget_exhausted=False,
        scored=12,
        fallback_reason=None,
    )
    return _view(dataset, outcome)


def test_a_hurt_query_names_the_relevant_passage_that_fell_and_what_took_its_place():
    from rerank_plugins.evaluation.report import _wrong_lines

    # The same top 3 (two non-relevant passages swap), but the relevant #4 falls to #11.
    after = ["d1", "d0", "d2", "d4", "d5", "d6", "d7", "d8", "d9", "d10", "d3", "d11"]
    view = _one_query_view("d3", after, {"nDCG@10": 0.43, "P@3": 0.0}, {"nDCG@10": 0.0, "P@3": 0.0})
    assert [(d.doc_id, d.rank_before, d.rank_after) for d in view.fell] == [("d3", 4, 11)]
    assert [d.doc_id for d in view.took_place] == ["d4"]
    lines = _wrong_lines(view)
    assert any(
        line.strip().startswith("fell     d3 (relevant) #4 -> #11") and "in its place: d4" in line
        for line in lines
    ), lines


def test_a_demoted_passage_that_fell_is_told_once():
    from rerank_plugins.evaluation.report import _wrong_lines

    # The relevant #1 leaves the top 3 (to #5): it fell and it was demoted; say it once.
    after = ["d1", "d2", "d3", "d4", "d0", *[f"d{i}" for i in range(5, 12)]]
    view = _one_query_view(
        "d0", after, {"nDCG@10": 1.0, "P@3": 1 / 3}, {"nDCG@10": 0.39, "P@3": 0.0}
    )
    lines = _wrong_lines(view)
    told = [line for line in lines if " d0 (relevant)" in line]
    assert len(told) == 1 and told[0].strip().startswith("fell     d0"), lines
    assert any(line.strip().startswith("promoted d3") for line in lines), lines
