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

from integration_tests._vector_db import (
    embeddings,
    langchain_retriever,
    llama_index_contexts,
    llama_index_engine,
)

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
    from llama_index.vector_stores.chroma import ChromaVectorStore

    ds, claims, docs = scifact
    collection = _client().create_collection(f"scifact-{uuid.uuid4().hex}", metadata=EXACT)
    engine, _ = llama_index_engine(ChromaVectorStore(chroma_collection=collection), docs)
    assert llama_index_contexts(engine, [ds.queries[q] for q in claims]) == [
        reference[q] for q in claims
    ]
    response = await engine.aquery(ds.queries[claims[0]])
    assert [n.node.get_content() for n in response.source_nodes] == reference[claims[0]]


@pytest.mark.slow
async def test_langchain_compression_retriever_over_chroma_gets_the_evaluations_context(
    scifact, reference
):
    from langchain_chroma import Chroma

    ds, claims, docs = scifact
    store = Chroma.from_texts(
        list(docs.values()),
        embeddings(),
        client=_client(),
        collection_name=f"scifact-{uuid.uuid4().hex}",
        collection_metadata=EXACT,
    )
    retriever = langchain_retriever(store)
    for q in claims:
        assert [d.page_content for d in retriever.invoke(ds.queries[q])] == reference[q]
    got = [d.page_content for d in await retriever.ainvoke(ds.queries[claims[0]])]
    assert got == reference[claims[0]]
