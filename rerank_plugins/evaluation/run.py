"""Retrieve wide, rerank narrow, measure: the evaluation run behind ``rerank-plugins eval``.

:func:`run_evaluation` reranks each query's first-stage candidates through the core
:class:`~rerank_plugins.Reranker` (so ``top_n``, ``max_candidates`` and ``budget_ms`` behave
exactly as in production) and measures, before and after: the metrics of
:mod:`~rerank_plugins.evaluation.metrics`, their lift with a paired significance test and a
bootstrap interval (:mod:`~rerank_plugins.evaluation.stats`), the shares of queries improved,
unchanged and hurt, the rerank latency (p50, p95, queries per second) and how often the budget ran
out. It also picks queries to show side by side and the queries the reranker hurt most.

Example:
    >>> from rerank_plugins import Reranker
    >>> from rerank_plugins.evaluation import BeirDataset
    >>> from rerank_plugins.evaluation.retrieval import Hit
    >>> from rerank_plugins.evaluation.run import run_evaluation
    >>> from rerank_plugins.testing import KeywordScorer
    >>> ds = BeirDataset(corpus={"a": ("", "red cars"), "b": ("", "red apples")},
    ...                  queries={"q": "red apples"}, qrels={"q": {"b": 1}})
    >>> result = run_evaluation(ds, {"q": [Hit("a", 0.9), Hit("b", 0.8)]},
    ...                         Reranker(KeywordScorer()), progress=False)
    >>> result.comparisons["P@1"].before, result.comparisons["P@1"].after
    (0.0, 1.0)
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rerank_plugins._core import Reranker
from rerank_plugins.evaluation.beir import BeirDataset, DatasetError
from rerank_plugins.evaluation.metrics import DEFAULT_METRICS, evaluate_ranking
from rerank_plugins.evaluation.retrieval import Hit
from rerank_plugins.evaluation.stats import Comparison, compare

__all__ = [
    "DocumentView",
    "EvalResult",
    "LatencySummary",
    "QueryOutcome",
    "QueryView",
    "metrics_for",
    "run_evaluation",
]

SHOW_DEPTH = 3
"""How many top documents the side-by-side views and "where it was wrong" compare."""


def metrics_for(k: int) -> list[str]:
    """The reported metrics for retrieval depth ``k``: P@1/3/5, nDCG@10, MRR@10, Recall@k."""
    return [*DEFAULT_METRICS, f"Recall@{k}"]


@dataclass(frozen=True)
class QueryOutcome:
    """One query, before and after reranking.

    Attributes:
        query_id: The query's id.
        query: Its text.
        before: Document ids in retrieval order (the first stage's top ``k``).
        after: Document ids in the reranker's output order.
        scores: The reranker's normalised score per ``after`` document (``None``: unscored).
        relevant: The query's judgements (document id -> grade).
        metrics_before: Metric -> value before reranking.
        metrics_after: Metric -> value after reranking.
        latency_ms: Wall-clock time of the rerank call.
        budget_exhausted: Whether the budget ran out in this call.
        scored: Candidates that got a score.
        fallback_reason: Why candidates stayed unscored after a failure, if any.
    """

    query_id: str
    query: str
    before: list[str]
    after: list[str]
    scores: list[float | None]
    relevant: dict[str, int]
    metrics_before: dict[str, float]
    metrics_after: dict[str, float]
    latency_ms: float
    budget_exhausted: bool
    scored: int
    fallback_reason: str | None = None


@dataclass(frozen=True)
class DocumentView:
    """A document as a report shows it."""

    doc_id: str
    title: str
    relevant: bool
    rank_before: int | None
    rank_after: int | None
    score: float | None


@dataclass(frozen=True)
class QueryView:
    """A query with both top-``SHOW_DEPTH`` lists, or with what a hurt query promoted/demoted.

    Attributes:
        query_id: The query's id.
        query: Its text.
        before: The first stage's top documents.
        after: The reranker's top documents.
        delta: Change of the headline metric (``nDCG@10``) after reranking.
        promoted: Documents the reranker moved into its top (not there before).
        demoted: Documents the reranker moved out of the top.
        fell: The harm, named: judged-relevant documents of the first stage's top 10 that the
            reranker moved down (or cut), worst first; a query hurt on nDCG@10 can keep the same
            top 3 and still lose its relevant #4 to #15.
        took_place: For each document of ``fell``, the one now at its old rank.
    """

    query_id: str
    query: str
    before: list[DocumentView]
    after: list[DocumentView]
    delta: dict[str, float]
    promoted: list[DocumentView] = field(default_factory=list)
    demoted: list[DocumentView] = field(default_factory=list)
    fell: list[DocumentView] = field(default_factory=list)
    took_place: list[DocumentView] = field(default_factory=list)


@dataclass(frozen=True)
class LatencySummary:
    """Rerank latency over the queries (warm: the model was loaded before timing).

    Attributes:
        p50_ms: Median latency per query.
        p95_ms: 95th percentile latency per query.
        mean_ms: Mean latency per query.
        qps: Queries per second, one query at a time (queries / total rerank time).
        budget_exhausted_rate: Share of queries whose budget ran out.
        fallback_rate: Share of queries with candidates left unscored after a failure.
        scored_per_query: Mean candidates scored per query.
        unscored_by_budget_rate: Share of queries whose budget ran out before any candidate
            was scored: their "reranked" order is the first stage's, and the report flags it.
    """

    p50_ms: float
    p95_ms: float
    mean_ms: float
    qps: float
    budget_exhausted_rate: float
    fallback_rate: float
    scored_per_query: float
    unscored_by_budget_rate: float = 0.0


@dataclass(frozen=True)
class EvalResult:
    """Everything an evaluation measured; the reports render it.

    Attributes:
        config: What was run (dataset, split, retriever, reranker, options).
        metrics: The metric names, in report order.
        outcomes: One :class:`QueryOutcome` per query, in evaluation order.
        comparisons: Metric -> before/after comparison with significance.
        latency: The rerank latency summary.
        showcase: Queries shown side by side.
        hurt_most: The queries the reranker hurt most, with what it promoted and demoted.
    """

    config: dict[str, Any]
    metrics: list[str]
    outcomes: list[QueryOutcome]
    comparisons: dict[str, Comparison]
    latency: LatencySummary
    showcase: list[QueryView]
    hurt_most: list[QueryView]

    @property
    def headline(self) -> str:
        """The metric the reports lead with: ``P@3``."""
        return "P@3" if "P@3" in self.comparisons else self.metrics[0]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict of everything."""
        return {
            "config": self.config,
            "metrics": self.metrics,
            "comparisons": {m: c.as_dict() for m, c in self.comparisons.items()},
            "latency": asdict(self.latency),
            "showcase": [asdict(v) for v in self.showcase],
            "hurt_most": [asdict(v) for v in self.hurt_most],
            "queries": [asdict(o) for o in self.outcomes],
        }


def run_evaluation(
    dataset: BeirDataset,
    candidates: Mapping[str, Sequence[Hit]],
    reranker: Reranker,
    *,
    k: int | None = None,
    show: Sequence[str] | int = 3,
    hurt: int = 5,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    progress: bool = True,
) -> EvalResult:
    """Rerank every query's candidates and measure the lift.

    Args:
        dataset: Supplies the query texts, document texts and judgements.
        candidates: Query id -> first-stage hits, best first (the queries evaluated, in order).
        reranker: The reranker under test, with its options.
        k: Retrieval depth reported as ``Recall@k`` (default: the longest candidate list).
        show: Query ids to show side by side, or how many to sample (seeded).
        hurt: How many of the most-hurt queries to list.
        seed: Seed of the sampling, the randomization test and the bootstrap.
        config: What was run, copied into the result for the reports.
        progress: Show a progress bar.

    Returns:
        The measurements.

    Raises:
        DatasetError: a query id of ``candidates`` that the dataset does not have, or one
            chosen to show that was not evaluated.
    """
    if not candidates:
        raise DatasetError("No queries to evaluate: the candidate lists are empty.")
    depth = k if k is not None else max(len(h) for h in candidates.values())
    metrics = metrics_for(depth)
    _warm_up(dataset, candidates, reranker)
    outcomes = [
        _rerank_one(dataset, qid, hits, reranker, metrics)
        for qid, hits in _progress(candidates.items(), progress, len(candidates))
    ]
    return EvalResult(
        config={
            **(config or {}),
            "k": depth,
            "queries": len(outcomes),
            "seed": seed,
            "calibration": _calibration_of(reranker),
        },
        metrics=metrics,
        outcomes=outcomes,
        comparisons=_comparisons(outcomes, metrics, seed),
        latency=_latency(outcomes),
        showcase=[_view(dataset, o) for o in _pick_showcase(outcomes, show, seed)],
        hurt_most=[_view(dataset, o) for o in _hurt_most(outcomes, hurt)],
    )


def _comparisons(
    outcomes: Sequence[QueryOutcome], metrics: Sequence[str], seed: int
) -> dict[str, Comparison]:
    """Each metric before and after reranking, compared (paired test, bootstrap interval)."""
    return {
        m: compare(
            [o.metrics_before[m] for o in outcomes],
            [o.metrics_after[m] for o in outcomes],
            seed=seed,
        )
        for m in metrics
    }


def _calibration_of(reranker: Reranker) -> str | None:
    """What the scores are: the scorer's calibration in a line, or ``None`` (its own scale)."""
    cal = reranker.scorer.calibration
    if cal is None:
        return None
    where = f" from {Path(cal.source).name}" if cal.source else ""
    return f"{cal.describe()}{where}, fit on {cal.data or 'unnamed data'}"


def _progress(items: Any, enabled: bool, total: int) -> Any:
    if not enabled:
        return items
    from rerank_plugins._optional import require

    tqdm = require("tqdm", extra="eval", who="rerank_plugins.evaluation")
    return tqdm.tqdm(items, total=total, desc="reranking", unit="query")


def _warm_up(dataset: BeirDataset, candidates: Mapping[str, Sequence[Hit]], rr: Reranker) -> None:
    """Load the model and run one untimed call, so latency figures are steady-state."""
    qid, hits = next(iter(candidates.items()))
    _check_query(dataset, qid)
    rr.scorer.prepare()
    if hits:
        Reranker(rr.scorer, max_candidates=rr.options.max_candidates).rerank(
            dataset.queries[qid], [dataset.document_text(h.doc_id) for h in hits]
        )


def _check_query(dataset: BeirDataset, qid: str) -> None:
    if qid not in dataset.queries:
        raise DatasetError(f"Query {qid!r} is not in the dataset's queries.jsonl.")


def _rerank_one(
    dataset: BeirDataset, qid: str, hits: Sequence[Hit], reranker: Reranker, metrics: list[str]
) -> QueryOutcome:
    _check_query(dataset, qid)
    before = [h.doc_id for h in hits]
    relevant = dict(dataset.qrels.get(qid, {}))
    started = time.perf_counter()
    result = reranker.rerank(
        dataset.queries[qid],
        [dataset.document_text(d) for d in before],
        retrieval_scores=[h.score for h in hits],
    )
    elapsed_ms = (time.perf_counter() - started) * 1000.0
    after = [before[item.index] for item in result.items]
    return QueryOutcome(
        query_id=qid,
        query=dataset.queries[qid],
        before=before,
        after=after,
        scores=[item.score for item in result.items],
        relevant=relevant,
        metrics_before=evaluate_ranking(before, relevant, metrics),
        metrics_after=evaluate_ranking(after, relevant, metrics),
        latency_ms=max(elapsed_ms, result.stats.latency_ms),
        budget_exhausted=result.stats.budget_exhausted,
        scored=result.stats.scored,
        fallback_reason=result.stats.fallback_reason,
    )


def _percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), without numpy."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _latency(outcomes: Sequence[QueryOutcome]) -> LatencySummary:
    lat = [o.latency_ms for o in outcomes]
    n = len(outcomes)
    total_s = sum(lat) / 1000.0
    return LatencySummary(
        p50_ms=_percentile(lat, 50),
        p95_ms=_percentile(lat, 95),
        mean_ms=sum(lat) / n,
        qps=n / max(total_s, 1e-9),
        budget_exhausted_rate=sum(o.budget_exhausted for o in outcomes) / n,
        fallback_rate=sum(o.fallback_reason is not None for o in outcomes) / n,
        scored_per_query=sum(o.scored for o in outcomes) / n,
        unscored_by_budget_rate=sum(o.budget_exhausted and o.scored == 0 for o in outcomes) / n,
    )


def _pick_showcase(
    outcomes: Sequence[QueryOutcome], show: Sequence[str] | int, seed: int
) -> list[QueryOutcome]:
    by_id = {o.query_id: o for o in outcomes}
    if not isinstance(show, int):
        missing = [qid for qid in show if qid not in by_id]
        if missing:
            raise DatasetError(
                f"Cannot show query id(s) {', '.join(missing[:5])}: they were not evaluated "
                f"(not in the split, or not judged)."
            )
        return [by_id[qid] for qid in show]
    # A seeded sample, stratified so the examples show each outcome: a query whose P@3 the
    # reranker improved, one it hurt, one whose top-3 changed with P@3 unchanged, then any.
    rng = random.Random(seed)
    changed = [o for o in outcomes if o.before[:SHOW_DEPTH] != o.after[:SHOW_DEPTH]]
    groups = [
        [o for o in changed if _delta(o, "P@3") > 1e-12],
        [o for o in changed if _delta(o, "P@3") < -1e-12],
        [o for o in changed if abs(_delta(o, "P@3")) <= 1e-12],
        list(outcomes),
    ]
    picked: list[QueryOutcome] = []
    for group in groups:
        pool = [o for o in group if o not in picked]
        take = 1 if group is not groups[-1] else show - len(picked)
        picked += rng.sample(pool, max(0, min(take, len(pool), show - len(picked))))
    return picked


def _delta(o: QueryOutcome, metric: str) -> float:
    return o.metrics_after[metric] - o.metrics_before[metric]


def _hurt_most(outcomes: Sequence[QueryOutcome], count: int) -> list[QueryOutcome]:
    hurt = [o for o in outcomes if _delta(o, "nDCG@10") < -1e-12 or _delta(o, "P@3") < -1e-12]
    hurt.sort(key=lambda o: (_delta(o, "nDCG@10"), _delta(o, "P@3"), o.query_id))
    return hurt[:count]


def _doc(dataset: BeirDataset, o: QueryOutcome, doc_id: str) -> DocumentView:
    title, text = dataset.corpus[doc_id]
    shown = title or text
    rank_after = o.after.index(doc_id) + 1 if doc_id in o.after else None
    return DocumentView(
        doc_id=doc_id,
        title=shown if len(shown) <= 90 else shown[:87] + "...",
        relevant=o.relevant.get(doc_id, 0) > 0,
        rank_before=o.before.index(doc_id) + 1,
        rank_after=rank_after,
        score=o.scores[rank_after - 1] if rank_after is not None else None,
    )


def _fell(o: QueryOutcome, depth: int = 10) -> list[tuple[str, str]]:
    """(relevant document that moved down, the document now at its old rank), worst drop first."""
    where = {d: i for i, d in enumerate(o.after)}
    out = []
    for before, doc in enumerate(o.before[:depth]):
        if o.relevant.get(doc, 0) <= 0:
            continue
        after = where.get(doc, len(o.after))
        if after > before and before < len(o.after):
            out.append((after - before, doc, o.after[before]))
    out.sort(key=lambda t: (-t[0], t[1]))
    return [(doc, other) for _, doc, other in out]


def _view(dataset: BeirDataset, o: QueryOutcome) -> QueryView:
    top_before = o.before[:SHOW_DEPTH]
    top_after = o.after[:SHOW_DEPTH]
    fell = _fell(o)
    return QueryView(
        query_id=o.query_id,
        query=o.query,
        before=[_doc(dataset, o, d) for d in top_before],
        after=[_doc(dataset, o, d) for d in top_after],
        delta={m: o.metrics_after[m] - o.metrics_before[m] for m in ("P@3", "nDCG@10")},
        promoted=[_doc(dataset, o, d) for d in top_after if d not in top_before],
        demoted=[_doc(dataset, o, d) for d in top_before if d not in top_after],
        fell=[_doc(dataset, o, d) for d, _ in fell],
        took_place=[_doc(dataset, o, other) for _, other in fell],
    )
