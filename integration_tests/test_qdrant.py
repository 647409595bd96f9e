"""A real vector database under both adapters: Qdrant in local mode (embedded, no server).

Over 200 bundled SciFact abstracts (the relevant ones of five development claims, and others),
embedded with the bundled all-MiniLM-L6-v2 by each framework's own embedding class, stored in
Qdrant through ``llama-index-vector-stores-qdrant`` and ``langchain-qdrant``. The rerank stage
plugs in as a user writes it (``node_postprocessors=[...]``; ``ContextualCompressionRetriever``),
sync and async, and the context that reaches the LLM is the one ``rerank-plugins eval``'s own
pipeline gives for the same first stage: the dense retriever's top 20, reranked by the same
reranker.
"""

from __future__ import annotations

import pytest

pytest.importorskip("qdrant_client")
pytest.importorskip("llama_index.vector_stores.qdrant")
pytest.importorskip("langchain_qdrant")

from integration_tests._vector_db import (
    K,
    embeddings,
    langchain_retriever,
    llama_index_contexts,
    llama_index_engine,
)


@pytest.mark.slow
async def test_llama_index_query_engine_over_qdrant_gets_the_evaluations_context(
    scifact, reference
):
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import AsyncQdrantClient, QdrantClient

    ds, claims, docs = scifact
    store = QdrantVectorStore(
        collection_name="scifact",
        client=QdrantClient(location=":memory:"),
        aclient=AsyncQdrantClient(location=":memory:"),
    )
    engine, rerank = llama_index_engine(store, docs)
    assert llama_index_contexts(engine, [ds.queries[q] for q in claims]) == [
        reference[q] for q in claims
    ]
    response = engine.query(ds.queries[claims[0]])
    assert response.source_nodes[0].node.metadata["reranker"].startswith("cross-encoder:")
    # async: the same context, through the framework's own async path (Qdrant's async client
    # holds its own collection, so it is filled through the async API too)
    aindex = await _async_index(docs, store)
    aengine = aindex.as_query_engine(similarity_top_k=K, node_postprocessors=[rerank])
    response = await aengine.aquery(ds.queries[claims[0]])
    assert [n.node.get_content() for n in response.source_nodes] == reference[claims[0]]


async def _async_index(docs, store):  # type: ignore[no-untyped-def]
    from llama_index.core import Document, StorageContext, VectorStoreIndex

    index = VectorStoreIndex(
        [], storage_context=StorageContext.from_defaults(vector_store=store), use_async=True
    )
    for d, t in docs.items():
        await index.ainsert(Document(text=t, id_=d))
    return index


@pytest.mark.slow
async def test_langchain_compression_retriever_over_qdrant_gets_the_evaluations_context(
    scifact, reference
):
    from langchain_qdrant import QdrantVectorStore

    ds, claims, docs = scifact
    store = QdrantVectorStore.from_texts(
        list(docs.values()), embeddings(), location=":memory:", collection_name="scifact"
    )
    retriever = langchain_retriever(store)
    for q in claims:
        assert [d.page_content for d in retriever.invoke(ds.queries[q])] == reference[q]
    got = [d.page_content for d in await retriever.ainvoke(ds.queries[claims[0]])]
    assert got == reference[claims[0]]
