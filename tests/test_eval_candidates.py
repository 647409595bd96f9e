"""query_candidates: a dataset's development queries with their first-stage candidates."""

from __future__ import annotations

import pytest

from rerank_plugins import ConfigurationError
from rerank_plugins.data import scifact_path
from rerank_plugins.evaluation import load_beir
from rerank_plugins.evaluation.candidates import (
    default_split,
    development_queries,
    query_candidates,
)
from rerank_plugins.evaluation.retrieval import retrieve


def test_bundled_scifact_gives_its_judged_dev_claims_with_the_retrievers_top_k():
    ds = load_beir(scifact_path(), split="dev")
    work = query_candidates(scifact_path(), limit=3, first_stage="bm25", depth=7)
    assert [q.query_id for q in work] == ds.judged_query_ids[:3]
    hits = retrieve(ds, ds.judged_query_ids[:3], kind="bm25", k=7, progress=False)
    for q in work:
        assert q.query == ds.queries[q.query_id]
        assert list(q.ids) == [h.doc_id for h in hits[q.query_id]]
        assert list(q.texts) == [ds.document_text(h.doc_id) for h in hits[q.query_id]]
        assert list(q.scores) == [h.score for h in hits[q.query_id]]
        assert q.relevant == {d for d, g in ds.qrels[q.query_id].items() if g > 0}


def test_a_first_stage_function_and_explicit_queries():
    ds = load_beir(scifact_path(), split="dev")
    wanted = ds.judged_query_ids[4:6]

    def alphabetical(dataset, ids, depth):
        docs = sorted(dataset.corpus)[: depth + 3]
        return {qid: [(d, -i) for i, d in enumerate(docs)] for qid in ids}

    work = query_candidates(ds, queries=wanted, first_stage=alphabetical, depth=4)
    assert [q.query_id for q in work] == wanted
    assert all(list(q.ids) == sorted(ds.corpus)[:4] for q in work)  # cut at depth


def test_the_split_and_the_development_queries():
    assert default_split(scifact_path()) == "dev"
    ds = load_beir(scifact_path(), split="dev")
    assert development_queries(ds) == ds.judged_query_ids


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 0}, "query_candidates() got depth=0; pass an integer >= 1."),
        ({"limit": True}, "query_candidates() got limit=True; pass an integer >= 1 or None."),
    ],
)
def test_bad_depth_or_limit_is_named(kwargs, message):
    with pytest.raises(ConfigurationError) as info:
        query_candidates(scifact_path(), **kwargs)
    assert str(info.value) == message


def test_an_unknown_first_stage_is_named():
    with pytest.raises(
        ConfigurationError, match="Unknown retriever 'sparse'; use 'dense' or 'bm25'"
    ):
        query_candidates(scifact_path(), limit=1, first_stage="sparse")
