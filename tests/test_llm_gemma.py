"""End to end with a real LLM: Gemma 3 270M (from PyPI, through transformers) as each framework's LLM.

It proves the plumbing and the parsers against a real model's output. A 270M base model's judgement
is weak, so this asserts the contract, not quality: a subset of the input, new objects, the
metadata, scores in [0, 1], the inputs unchanged, sync and async alike, and that the parsers read
the replies (few-shot prompts from ``rerank_plugins.models.gemma``). The model loads once per
session (about 15 s from the converted cache; the first run converts the GGUF, about a minute).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rerank_plugins import METADATA_KEYS, Reranker
from rerank_plugins.langchain import STATS_EVENT, RerankCompressor
from rerank_plugins.llama_index import RerankPostprocessor
from rerank_plugins.models.gemma import (
    BASE_MODEL_PROMPTS,
    gemma_langchain_llm,
    gemma_llama_index_llm,
    load_gemma,
)
from rerank_plugins.scorers.llm_judge import LLMJudgeScorer

pytestmark = pytest.mark.slow

QUERY = "what do cats eat"
TEXTS = [
    "The stock market fell sharply on Tuesday.",
    "Cats are carnivores: they eat meat such as mice, birds and fish.",
    "Dogs bark at strangers.",
]


@pytest.fixture(scope="session")
def gemma() -> Any:
    return load_gemma()


@pytest.fixture(scope="session")
def langchain_gemma(gemma: Any) -> Any:
    return gemma_langchain_llm(max_new_tokens=16)


@pytest.fixture(scope="session")
def llama_index_gemma(gemma: Any) -> Any:
    return gemma_llama_index_llm(max_new_tokens=1)


class StatsHandler(BaseCallbackHandler):
    """Collects the stats the compressor reports through LangChain callbacks."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        if name == STATS_EVENT:
            self.seen.append(data)


def _check_scores(items: list[tuple[float | None, dict[str, Any]]], reranker: str) -> None:
    for score, metadata in items:
        assert set(METADATA_KEYS) <= set(metadata)
        assert metadata["reranker"] == reranker
        assert metadata["rerank_scored"] is (score is not None)
        if score is not None:
            assert type(score) is float and 0.0 <= score <= 1.0


def test_langchain_compressor_with_gemma(langchain_gemma: Any) -> None:
    scorer = LLMJudgeScorer(langchain_gemma, prompt=BASE_MODEL_PROMPTS["grade"], max_concurrency=1)
    assert scorer.model == "gemma-3-270m"
    compressor = RerankCompressor(scorer=scorer, top_n=2)
    documents = [
        Document(page_content=t, id=f"d{i}", metadata={"k": i}) for i, t in enumerate(TEXTS)
    ]
    before = copy.deepcopy(documents)

    stats = StatsHandler()
    out = compressor.compress_documents(documents, QUERY, callbacks=[stats])
    async_out = asyncio.run(compressor.acompress_documents(documents, QUERY, callbacks=[stats]))

    assert documents == before
    for docs in (out, async_out):
        assert 1 <= len(docs) <= 2
        ids = [d.id for d in docs]
        assert len(set(ids)) == len(ids) and set(ids) <= {"d0", "d1", "d2"}
        for doc in docs:
            assert doc.page_content == TEXTS[int(doc.id[1:])]
            assert doc.metadata["k"] == int(doc.id[1:])
        _check_scores([(d.metadata["relevance_score"], d.metadata) for d in docs], scorer.name)
    assert [d.id for d in out] == [d.id for d in async_out]  # greedy decoding: same replies
    # The parser read the real reply: something was graded, or the reply was unusable and said so.
    assert len(stats.seen) == 2
    for seen in stats.seen:
        if seen["scored"]:
            assert seen["billed"]["llm_calls"] == 1
        else:
            assert seen["fallback_reason"].startswith("unparseable_output")


def test_llama_index_postprocessor_with_gemma_yes_probability(llama_index_gemma: Any) -> None:
    scorer = LLMJudgeScorer(
        llama_index_gemma,
        score_by="yes_probability",
        prompt=BASE_MODEL_PROMPTS["yes_probability"],
        max_concurrency=1,
    )
    post = RerankPostprocessor(scorer=scorer)
    nodes = [
        NodeWithScore(node=TextNode(text=t, id_=f"n{i}"), score=0.5) for i, t in enumerate(TEXTS)
    ]
    before = copy.deepcopy(nodes)

    out = post.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    async_out = asyncio.run(post.apostprocess_nodes(nodes, query_bundle=QueryBundle(QUERY)))

    assert nodes == before
    for result in (out, async_out):
        assert sorted(n.node.node_id for n in result) == ["n0", "n1", "n2"]
        _check_scores([(n.score, n.node.metadata) for n in result], scorer.name)
        # Gemma offers " yes" and " no" among its first token's top log-probabilities.
        assert all(n.score is not None and 0.0 < n.score < 1.0 for n in result)
    assert [n.node.node_id for n in out] == [n.node.node_id for n in async_out]
    assert [n.score for n in out] == pytest.approx([n.score for n in async_out], abs=1e-4)


def test_listwise_with_gemma(gemma: Any) -> None:
    llm = gemma_llama_index_llm(max_new_tokens=12)
    scorer = LLMJudgeScorer(llm, mode="listwise", prompt=BASE_MODEL_PROMPTS["listwise"])
    result = Reranker(scorer).rerank(QUERY, TEXTS)
    assert sorted(result.indices) == [0, 1, 2]
    if result.stats.scored:  # a parsed ranking: scores from the rank, 1, 2/3, 1/3
        assert result.stats.billed["llm_calls"] == 1
        assert [it.score for it in result] == pytest.approx([1.0, 2 / 3, 1 / 3])
    else:
        assert result.stats.fallback_reason.startswith("unparseable_output")


def test_streaming_yields_as_it_generates_the_same_text_as_generate(gemma: Any) -> None:
    prompt = "Aspirin is a drug that"
    pieces = list(gemma.stream(prompt, max_new_tokens=10))
    assert len(pieces) >= 2  # streamed piece by piece, not one block at the end
    assert "".join(pieces) == gemma.generate(prompt, max_new_tokens=10)[0]


def test_llama_index_stream_complete_streams_for_real(gemma: Any) -> None:
    llm = gemma_llama_index_llm(max_new_tokens=8)
    chunks = list(llm.stream_complete("Aspirin is a drug that"))
    assert len(chunks) >= 2
    assert chunks[-1].text == "".join(c.delta for c in chunks)


def test_a_batch_continues_each_prompt_as_it_would_alone(gemma: Any) -> None:
    prompts = ["The capital of France is", "Cats are animals that", "One, two, three,"]
    side = gemma.tokenizer.padding_side
    alone = [gemma.generate(p, max_new_tokens=6, stop=("\n",))[0] for p in prompts]
    batched = gemma.generate_many(prompts, max_new_tokens=6, stop=("\n",))
    assert batched == alone  # left padding: each prompt's continuation is its own
    assert gemma.tokenizer.padding_side == side  # the tokenizer is left as it was
