"""A dataset's queries with their first-stage candidates and their judgements.

The work a rerank stage is measured on: for each development query of a dataset in BEIR layout,
the first stage's top ``depth`` documents (ids, texts and first-stage scores) and the query's
relevance judgements. Benchmarks, the docs' figure scripts and the examples all start from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rerank_plugins._checks import check_int
from rerank_plugins.evaluation.beir import BeirDataset, dev_train_split, load_beir
from rerank_plugins.evaluation.retrieval import retrieve

__all__ = [
    "FirstStage",
    "QueryCandidates",
    "default_split",
    "development_queries",
    "query_candidates",
]

FirstStage = Callable[[BeirDataset, Sequence[str], int], Mapping[str, Sequence[tuple[str, float]]]]
"""A first stage of your own: ``(dataset, query ids, depth) -> {query id: [(doc id, score)]}``,
best first."""


@dataclass(frozen=True)
class QueryCandidates:
    """A query, its first-stage candidates (best first) and its judgements.

    ``ids``, ``texts`` and ``scores`` are parallel: the candidates' document ids, their texts
    (title and text, what a reranker reads) and their first-stage scores.
    """

    query_id: str
    query: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    scores: tuple[float, ...]
    judgements: Mapping[str, int]

    @property
    def relevant(self) -> frozenset[str]:
        """Ids of the documents judged relevant (grade above 0), candidates or not."""
        return frozenset(d for d, grade in self.judgements.items() if grade > 0)


def default_split(path: str | Path) -> str:
    """The qrels split to load from a BEIR folder: ``dev`` where it has ``qrels/dev.tsv`` (the
    bundled SciFact ships only its development claims' judgements there), else ``train``."""
    return "dev" if (Path(path) / "qrels" / "dev.tsv").is_file() else "train"


def development_queries(dataset: BeirDataset) -> list[str]:
    """The development queries: the project's fixed split of the judged queries when the loaded
    qrels are a ``train`` split, else every judged query (a split that already is development)."""
    if dataset.split == "train":
        return dev_train_split(dataset)[0]
    return dataset.judged_query_ids


def query_candidates(
    data: BeirDataset | str | Path,
    *,
    split: str | None = None,
    queries: Sequence[str] | None = None,
    limit: int | None = None,
    first_stage: str | FirstStage = "dense",
    depth: int = 20,
    progress: bool = False,
) -> list[QueryCandidates]:
    """Queries of a dataset with their first-stage candidates and their judgements.

    Args:
        data: A folder in BEIR layout (e.g. ``rerank_plugins.data.scifact_path()``, the bundled
            SciFact subset) or a dataset already loaded.
        split: The qrels split to load from a folder (default: :func:`default_split`).
        queries: Which query ids, in order (default: :func:`development_queries`).
        limit: Keep only the first ``limit`` of them.
        first_stage: ``"dense"`` (all-MiniLM-L6-v2, the evaluation's retriever, corpus index
            cached on disk), ``"bm25"``, or a :data:`FirstStage` function.
        depth: Candidates per query.
        progress: Show the retriever's progress bars.

    Returns:
        One entry per query, in the order of ``queries``.

    Raises:
        ConfigurationError: ``depth`` or ``limit`` that is not a positive integer, or an unknown
            first stage.

    Example:
        >>> from rerank_plugins.data import scifact_path
        >>> from rerank_plugins.evaluation.candidates import query_candidates
        >>> work = query_candidates(scifact_path(), limit=2, first_stage="bm25", depth=5)
        >>> [(len(q.texts), len(q.relevant) > 0) for q in work]
        [(5, True), (5, True)]
    """
    check_int("query_candidates()", "depth", depth)
    check_int("query_candidates()", "limit", limit, allow_none=True)
    if isinstance(data, BeirDataset):
        dataset = data
    else:
        dataset = load_beir(data, split=split or default_split(data))
    ids = list(development_queries(dataset) if queries is None else queries)
    if limit is not None:
        ids = ids[:limit]
    ranked = _rank(dataset, ids, first_stage, depth, progress)
    return [_entry(dataset, qid, list(ranked[qid])[:depth]) for qid in ids]


def _rank(
    dataset: BeirDataset, ids: list[str], first_stage: str | FirstStage, depth: int, progress: bool
) -> Mapping[str, Sequence[tuple[str, float]]]:
    if callable(first_stage):  # a function of the caller's
        return first_stage(dataset, ids, depth)
    hits = retrieve(dataset, ids, kind=first_stage, k=depth, progress=progress)
    return {qid: [(h.doc_id, h.score) for h in hits[qid]] for qid in ids}


def _entry(dataset: BeirDataset, qid: str, top: list[tuple[str, float]]) -> QueryCandidates:
    return QueryCandidates(
        query_id=qid,
        query=dataset.queries[qid],
        ids=tuple(doc for doc, _ in top),
        texts=tuple(dataset.document_text(doc) for doc, _ in top),
        scores=tuple(float(score) for _, score in top),
        judgements=dict(dataset.qrels.get(qid, {})),
    )
