"""Ranking metrics, per query: P@k, nDCG@k, MRR@k, Recall@k.

Definitions follow ``trec_eval`` and ``ranx`` (the tests check them against ``ranx`` on the same
runs): a document is relevant when its judgement is ``> 0``; unjudged documents are not relevant.

- ``P@k``: relevant documents among the first ``k`` positions, divided by ``k`` (a ranking
  shorter than ``k`` counts its missing positions as not relevant).
- ``nDCG@k``: DCG with linear gain ``rel / log2(rank + 1)`` over the first ``k``, divided by the
  DCG of the ideal ordering of the judged documents.
- ``MRR@k``: ``1 / rank`` of the first relevant document within the first ``k``, else 0.
- ``Recall@k``: relevant documents among the first ``k``, divided by all relevant documents.

A query with no relevant document scores 0 on every metric.

Example:
    >>> from rerank_plugins.evaluation.metrics import evaluate_ranking
    >>> evaluate_ranking(["d3", "d1", "d2"], {"d1": 1}, ["P@1", "P@3", "MRR@10"])
    {'P@1': 0.0, 'P@3': 0.3333333333333333, 'MRR@10': 0.5}
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from rerank_plugins._checks import is_int

__all__ = [
    "DEFAULT_METRICS",
    "evaluate_ranking",
    "evaluate_run",
    "mean",
    "mrr_at",
    "ndcg_at",
    "parse_metric",
    "precision_at",
    "recall_at",
]

DEFAULT_METRICS = ("P@1", "P@3", "P@5", "nDCG@10", "MRR@10")
"""Reported for every evaluation, with ``Recall@k`` for the retrieval depth ``k`` added."""

Qrels = Mapping[str, int]
_METRIC = re.compile(r"^(P|nDCG|MRR|Recall)@([1-9][0-9]*)$")


def _check(ranking: Sequence[str], k: int) -> None:
    if not is_int(k) or k < 1:
        raise ValueError(f"The cutoff k must be a positive integer, got {k!r}.")
    if len(set(ranking)) == len(ranking):
        return
    seen: set[str] = set()
    for doc in ranking:
        if doc in seen:
            raise ValueError(
                f"The ranking lists document {doc!r} twice; a ranking must not repeat documents."
            )
        seen.add(doc)


def precision_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Relevant documents in the first ``k`` positions, divided by ``k``.

    >>> precision_at(["a", "b"], {"a": 1}, 4)
    0.25
    """
    _check(ranking, k)
    return sum(1 for d in ranking[:k] if qrels.get(d, 0) > 0) / k


def recall_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Relevant documents in the first ``k`` positions, divided by all relevant documents.

    >>> recall_at(["a", "b"], {"a": 1, "c": 2}, 2)
    0.5
    """
    _check(ranking, k)
    relevant = sum(1 for rel in qrels.values() if rel > 0)
    if relevant == 0:
        return 0.0
    return sum(1 for d in ranking[:k] if qrels.get(d, 0) > 0) / relevant


def mrr_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Reciprocal rank of the first relevant document within the first ``k``, else 0.

    >>> mrr_at(["x", "a"], {"a": 1}, 10)
    0.5
    """
    _check(ranking, k)
    for rank, doc in enumerate(ranking[:k], start=1):
        if qrels.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranking: Sequence[str], qrels: Qrels, k: int) -> float:
    """Normalised discounted cumulative gain at ``k``, with linear gain.

    >>> round(ndcg_at(["x", "a"], {"a": 1}, 10), 4)
    0.6309
    """
    _check(ranking, k)
    dcg = sum(
        max(qrels.get(d, 0), 0) / math.log2(rank + 1) for rank, d in enumerate(ranking[:k], start=1)
    )
    ideal = sorted((rel for rel in qrels.values() if rel > 0), reverse=True)[:k]
    idcg = sum(rel / math.log2(rank + 1) for rank, rel in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0


_FUNCTIONS: dict[str, Callable[[Sequence[str], Qrels, int], float]] = {
    "P": precision_at,
    "nDCG": ndcg_at,
    "MRR": mrr_at,
    "Recall": recall_at,
}


def parse_metric(name: str) -> tuple[Callable[[Sequence[str], Qrels, int], float], int]:
    """``"nDCG@10"`` -> (the metric function, 10).

    Raises:
        ValueError: an unknown name.
    """
    match = _METRIC.match(name)
    if match is None:
        raise ValueError(
            f"Unknown metric {name!r}; use P@k, nDCG@k, MRR@k or Recall@k with a positive k, "
            f"e.g. 'nDCG@10'."
        )
    return _FUNCTIONS[match.group(1)], int(match.group(2))


def evaluate_ranking(
    ranking: Sequence[str], qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS
) -> dict[str, float]:
    """Every metric of ``metrics`` for one ranked list of document ids."""
    out: dict[str, float] = {}
    for name in metrics:
        fn, k = parse_metric(name)
        out[name] = fn(ranking, qrels, k)
    return out


def evaluate_run(
    run: Mapping[str, Sequence[str]],
    qrels: Mapping[str, Qrels],
    metrics: Sequence[str] = DEFAULT_METRICS,
) -> dict[str, dict[str, float]]:
    """Per-query metrics for a run (query id -> ranked document ids).

    Returns:
        Metric name -> {query id -> value}. Queries missing from ``qrels`` score 0.

    Example:
        >>> evaluate_run({"q": ["a", "b"]}, {"q": {"b": 1}}, ["P@1", "nDCG@10"])["P@1"]
        {'q': 0.0}
    """
    parsed = [(name, *parse_metric(name)) for name in metrics]
    out: dict[str, dict[str, float]] = {name: {} for name in metrics}
    for qid, ranking in run.items():
        judged = qrels.get(qid, {})
        for name, fn, k in parsed:
            out[name][qid] = fn(ranking, judged, k)
    return out


def mean(values: Mapping[str, float] | Sequence[float]) -> float:
    """The arithmetic mean (0.0 for nothing)."""
    items = list(values.values()) if isinstance(values, Mapping) else list(values)
    return math.fsum(items) / len(items) if items else 0.0
