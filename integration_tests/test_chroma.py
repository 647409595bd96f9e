"""A second real vector database under both adapters: Chroma, embedded (in-process, no server).

The same check as ``test_qdrant.py``, over the same 200 bundled SciFact abstracts embedded with
the bundled all-MiniLM-L6-v2 by each framework's own embedding class, stored in Chroma through
``llama-index-vector-stores-chroma`` and ``langchain-chroma``: the rerank stage plugs in as a
user writes it, sync and async, and the context that reaches the LLM is what the evaluation's own
pipeline gives (its dense top 20, reranked by the same reranker). Chroma searches an HNSW graph;
with 200 vectors and a search breadth of 400 the graph search is exhaustive, so the first stage
is the exact cosine top 20, as in the evaluation.
"""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("chromadb")
pytest.importorskip("llama_index.vector_stores.chroma")
pytest.importorskip("langchain_chroma")

from integration_tests._vector_db import K
from integration_tests._vector_db import minilm as _minilm
from integration_tests._vector_db import pinned as _pinned

# Cosine distance, and a graph search broad enough to be exact on 200 vectors.
EXACT = {"hnsw:space": "cosine", "hnsw:search_ef": 400, "hnsw:construction_ef": 400}


def _client():  # type: ignore[no-untyped-def]
    import chromadb
    from chromadb.config import Settings

    return chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))


@pytest.mark.slow
async def test_llama_index_query_engine_over_chroma_gets_the_evaluations_context(
    scifact, reference
):
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rerank_plugins.llama_index import RerankPostprocessor

    ds, claims, docs = scifact
    Settings.embed_model = HuggingFaceEmbedding(model_name=_minilm())
    Settings.llm = MockLLM()
    collection = _client().create_collection(f"scifact-{uuid.uuid4().hex}", metadata=EXACT)
    store = ChromaVectorStore(chroma_collection=collection)
    index = VectorStoreIndex.from_documents(
        [Document(text=t, id_=d) for d, t in docs.items()],
        storage_context=StorageContext.from_defaults(vector_store=store),
    )
    rerank = RerankPostprocessor(scorer=_pinned(), top_n=3)
    engine = index.as_query_engine(similarity_top_k=K, node_postprocessors=[rerank])
    for q in claims:
        response = engine.query(ds.queries[q])
        assert [n.node.get_content() for n in response.source_nodes] == reference[q]
    response = await engine.aquery(ds.queries[claims[0]])
    assert [n.node.get_content() for n in response.source_nodes] == reference[claims[0]]


@pytest.mark.slow
async def test_langchain_compression_retriever_over_chroma_gets_the_evaluations_context(
    scifact, reference
):
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_huggingface import HuggingFaceEmbeddings

    from rerank_plugins.langchain import RerankCompressor

    ds, claims, docs = scifact
    store = Chroma.from_texts(
        list(docs.values()),
        HuggingFaceEmbeddings(model_name=_minilm()),
        client=_client(),
        collection_name=f"scifact-{uuid.uuid4().hex}",
        collection_metadata=EXACT,
    )
    retriever = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(scorer=_pinned(), top_n=3),
        base_retriever=store.as_retriever(search_kwargs={"k": K}),
    )
    for q in claims:
        assert [d.page_content for d in retriever.invoke(ds.queries[q])] == reference[q]
    got = [d.page_content for d in await retriever.ainvoke(ds.queries[claims[0]])]
    assert got == reference[claims[0]]
