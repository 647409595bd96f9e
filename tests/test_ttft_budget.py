"""A per-query time-to-first-token target: the rerank stage gets what remains of it.

The target starts with the query (``ttft_budget``); a slow retrieval before the rerank stage
leaves it less time, never the user. Driven through the core and through each framework's own
pipeline (a LlamaIndex query engine, a LangChain ContextualCompressionRetriever), sync and async,
with a retriever that takes a known time and a scorer whose units take a known time.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever as LangChainRetriever
from llama_index.core.llms import MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import BaseRetriever as LlamaRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rerank_plugins import ConfigurationError, Reranker, ttft_budget
from rerank_plugins.langchain import RerankCompressor
from rerank_plugins.llama_index import RerankPostprocessor
from rerank_plugins.testing import KeywordScorer

TEXTS = [f"apples and passage {i}" for i in range(10)]
RETRIEVAL_S = 0.25  # what the first stage takes
TARGET_MS, RESERVE_MS = 450.0, 50.0  # so about 150 ms remain for the rerank stage
LEFT_MS = TARGET_MS - RESERVE_MS - RETRIEVAL_S * 1000


def slow_scorer() -> KeywordScorer:
    return KeywordScorer(unit_size=1, delay_s=0.04)  # 10 texts: 400 ms, far past what is left


def test_the_rerank_stage_gets_what_the_target_leaves():
    reranker = Reranker(slow_scorer())
    with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
        time.sleep(RETRIEVAL_S)
        started = time.monotonic()
        stats = reranker.rerank("apples", TEXTS).stats
        took_ms = (time.monotonic() - started) * 1000
    assert 0 < stats.budget_ms <= LEFT_MS + 1
    assert stats.budget_exhausted and 0 < stats.scored < len(TEXTS)
    assert took_ms <= stats.budget_ms + 40 + 60  # within the budget plus one unit (and slack)
    # Outside the target, the same reranker scores everything again.
    assert reranker.rerank("apples", TEXTS).stats.scored == len(TEXTS)


def test_a_target_already_spent_returns_at_once_in_retrieval_order(caplog):
    with ttft_budget(100):
        time.sleep(0.12)
        result = Reranker(slow_scorer(), top_n=3).rerank("apples", TEXTS)
    assert result.stats.scored == 0 and result.stats.budget_ms == 0
    assert result.indices == [0, 1, 2]
    assert "ttft_budget" in caplog.text


def test_the_rerankers_own_budget_still_applies_when_it_ends_first():
    with ttft_budget(10_000):
        stats = Reranker(slow_scorer(), budget_ms=100).rerank("apples", TEXTS).stats
    assert stats.budget_ms == pytest.approx(100)


def test_async_sees_the_target_too():
    async def main() -> tuple[float, int]:
        with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
            await asyncio.sleep(RETRIEVAL_S)
            stats = (await Reranker(slow_scorer()).arerank("apples", TEXTS)).stats
        return stats.budget_ms, stats.scored

    budget, scored = asyncio.run(main())
    assert 0 < budget <= LEFT_MS + 1 and scored < len(TEXTS)


@pytest.mark.parametrize("bad", [{"target_ms": -1}, {"target_ms": True}, {"reserve_ms": "x"}])
def test_bad_targets_are_configuration_errors(bad):
    args = {"target_ms": 500, **bad}
    target = args.pop("target_ms")
    with pytest.raises(ConfigurationError, match="ttft_budget"), ttft_budget(target, **args):
        pass


class SlowLlamaRetriever(LlamaRetriever):
    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        time.sleep(RETRIEVAL_S)
        return [NodeWithScore(node=TextNode(text=t), score=0.5) for t in TEXTS]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        await asyncio.sleep(RETRIEVAL_S)
        return [NodeWithScore(node=TextNode(text=t), score=0.5) for t in TEXTS]


def scored(metadatas: list[dict]) -> int:
    return sum(bool(m["rerank_scored"]) for m in metadatas)


def test_llama_index_query_engine_sync_and_async():
    engine = RetrieverQueryEngine.from_args(
        SlowLlamaRetriever(),
        llm=MockLLM(max_tokens=4),
        node_postprocessors=[RerankPostprocessor(scorer=slow_scorer())],
    )
    with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
        response = engine.query("apples")
    assert 0 < scored([n.node.metadata for n in response.source_nodes]) < len(TEXTS)

    async def main():  # type: ignore[no-untyped-def]
        with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
            return await engine.aquery("apples")

    response = asyncio.run(main())
    assert 0 < scored([n.node.metadata for n in response.source_nodes]) < len(TEXTS)
    # Without a target, the same engine scores every node.
    assert scored([n.node.metadata for n in engine.query("apples").source_nodes]) == len(TEXTS)


class SlowLangChainRetriever(LangChainRetriever):
    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        time.sleep(RETRIEVAL_S)
        return [Document(t) for t in TEXTS]

    async def _aget_relevant_documents(self, query: str, *, run_manager) -> list[Document]:  # type: ignore[no-untyped-def]
        await asyncio.sleep(RETRIEVAL_S)
        return [Document(t) for t in TEXTS]


def test_langchain_compression_retriever_sync_and_async():
    retriever = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(scorer=slow_scorer()),
        base_retriever=SlowLangChainRetriever(),
    )
    with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
        docs = retriever.invoke("apples")
    assert 0 < scored([d.metadata for d in docs]) < len(TEXTS)

    async def main():  # type: ignore[no-untyped-def]
        with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
            return await retriever.ainvoke("apples")

    assert 0 < scored([d.metadata for d in asyncio.run(main())]) < len(TEXTS)
    assert scored([d.metadata for d in retriever.invoke("apples")]) == len(TEXTS)
