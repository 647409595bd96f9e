"""Copies, pickles, sync calls inside a running loop, nested budgets and spec strings (issue 28,
points 2 to 6): each repro of the issue, through the real classes."""

from __future__ import annotations

import asyncio
import copy
import pickle
import time
from collections.abc import Sequence

import pytest
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rerank_plugins import (
    AuthenticationError,
    ConfigurationError,
    CrossEncoderScorer,
    LLMJudgeScorer,
    Reranker,
    Scorer,
    ttft_budget,
)
from rerank_plugins.langchain import RerankCompressor
from rerank_plugins.llama_index import RerankPostprocessor
from rerank_plugins.scorers import from_spec
from rerank_plugins.testing import KeywordScorer
from rerank_plugins.testing.server import RerankServer
from tests.llm_fakes import Script, judge, langchain_llm, llama_index_llm

QUERY = "red fox"
TEXTS = ["a cat", "the red fox", "red apples"]


@pytest.fixture(scope="module")
def server():
    with RerankServer() as running:
        yield running


def hosted(server: RerankServer) -> list[Scorer]:
    return [server.scorer_for(backend) for backend in ("cohere", "voyage", "tei")]


async def async_judge(prompt: str) -> str:
    await asyncio.sleep(0)
    return judge(prompt)[0]


def sync_judge(prompt: str) -> str:
    return judge(prompt)[0]


def llm_scorers() -> list[Scorer]:
    return [
        LLMJudgeScorer(async_judge),
        LLMJudgeScorer(sync_judge),
        LLMJudgeScorer(langchain_llm(Script())),
        LLMJudgeScorer(llama_index_llm(Script())),
    ]


# -- 2. copies ---------------------------------------------------------------------------------
def test_deep_copies_of_every_component_work_and_share_the_scorer(server):
    from rerank_plugins.scorers.query_likelihood import QueryLikelihoodScorer

    unloaded = QueryLikelihoodScorer("gemma-3-270m")  # lazy: copies share it before loading too
    assert copy.deepcopy(unloaded) is unloaded and copy.copy(unloaded) is unloaded
    scorers = [KeywordScorer(), CrossEncoderScorer("bundled:scifact-minilm"), *llm_scorers()]
    scorers += hosted(server)
    for scorer in scorers:
        Reranker(scorer).rerank(QUERY, TEXTS)  # in use: clients open, locks held by the scorer
        assert copy.deepcopy(scorer) is scorer and copy.copy(scorer) is scorer
        reranker = Reranker(scorer, top_n=2)
        clone = copy.deepcopy(reranker)
        clone.top_n = 1
        assert clone.scorer is scorer and reranker.top_n == 2
        assert len(clone.rerank(QUERY, TEXTS).items) == 1
    scorer = KeywordScorer()
    for adapter in (RerankCompressor(scorer=scorer, top_n=2),
                    RerankPostprocessor(scorer=scorer, top_n=2)):  # fmt: skip
        for clone in (copy.deepcopy(adapter), adapter.model_copy(deep=True)):
            clone.top_n = 1
            assert clone.scorer is scorer and adapter.top_n == 2
    docs = [Document(t, id=str(i)) for i, t in enumerate(TEXTS)]
    compressor = copy.deepcopy(RerankCompressor(scorer=scorer, top_n=1))
    assert [d.id for d in compressor.compress_documents(docs, QUERY)] == ["1"]
    post = RerankPostprocessor(scorer=scorer, top_n=1).model_copy(deep=True)
    nodes = [NodeWithScore(node=TextNode(text=t), score=0.5) for t in TEXTS]
    assert post.postprocess_nodes(nodes, query_str=QUERY)[0].node.text == "the red fox"


# -- 3. pickling -------------------------------------------------------------------------------
class PlainScorer(Scorer):
    """A scorer with nothing that cannot travel: pickles, so its adapter round-trips."""

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> list[float]:
        return [float(query in text) for text in texts]


@pytest.mark.parametrize("adapter", [RerankPostprocessor, RerankCompressor])
def test_pickling_an_adapter_refuses_at_once_or_round_trips(adapter, server):
    for scorer in (KeywordScorer(), server.scorer_for("cohere")):
        with pytest.raises(TypeError, match=f"{adapter.__name__} cannot be pickled: its scorer"):
            pickle.dumps(adapter(scorer=scorer, top_n=1))
    back = pickle.loads(pickle.dumps(adapter(scorer=PlainScorer(), top_n=1)))
    assert isinstance(back.scorer, PlainScorer) and back.top_n == 1
    if adapter is RerankPostprocessor:
        nodes = [NodeWithScore(node=TextNode(text=t), score=0.5) for t in TEXTS]
        assert back.postprocess_nodes(nodes, query_str="fox")[0].node.text == "the red fox"
    else:
        docs = [Document(t, id=str(i)) for i, t in enumerate(TEXTS)]
        assert back.compress_documents(docs, "fox")[0].id == "1"


# -- 4. sync entry points inside a running event loop ---------------------------------------------
def test_every_sync_entry_point_works_inside_a_running_loop(server):
    scorers = [KeywordScorer(), CrossEncoderScorer("bundled:scifact-minilm"), *llm_scorers()]
    scorers += hosted(server)
    docs = [Document(t, id=str(i)) for i, t in enumerate(TEXTS)]
    nodes = [NodeWithScore(node=TextNode(text=t), score=0.5) for t in TEXTS]

    async def notebook_cell() -> list[str]:
        # What a Jupyter cell or an async web handler that calls sync code does.
        seen = []
        for scorer in scorers:
            for budget in (None, 30_000):
                result = Reranker(scorer, budget_ms=budget).rerank(QUERY, TEXTS)
                assert result.stats.scored == len(TEXTS), (scorer, result.stats)
                assert result.items[0].text == "the red fox", scorer
            compressor = RerankCompressor(scorer=scorer, top_n=1)
            assert compressor.compress_documents(docs, QUERY)[0].id == "1"
            post = RerankPostprocessor(scorer=scorer, top_n=1)
            out = post.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
            assert out[0].node.text == "the red fox"
            seen.append(scorer.name)
        return seen

    assert len(asyncio.run(notebook_cell())) == len(scorers)


def test_a_sync_call_of_an_async_llm_inside_a_loop_keeps_the_context():
    seen: list[float | None] = []

    async def llm(prompt: str) -> str:
        from rerank_plugins import query_deadline

        deadline = query_deadline()
        seen.append(None if deadline is None else deadline.end)
        return judge(prompt)[0]

    async def cell() -> None:
        with ttft_budget(60_000):
            Reranker(LLMJudgeScorer(llm)).rerank(QUERY, TEXTS)

    asyncio.run(cell())
    assert seen and all(end is not None for end in seen)  # the helper thread saw the budget


# -- 5. nested budgets -------------------------------------------------------------------------
class SlowScorer(Scorer):
    unit_size = 2

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> list[float]:
        time.sleep(0.03 * len(texts))
        return [1.0] * len(texts)


def test_an_inner_ttft_budget_never_outlives_the_outer_one():
    started = time.monotonic()
    with ttft_budget(150), ttft_budget(60_000):
        stats = Reranker(SlowScorer()).rerank("q", [f"text {i}" for i in range(20)]).stats
    elapsed_ms = (time.monotonic() - started) * 1000
    assert stats.budget_ms is not None and stats.budget_ms <= 150
    assert stats.budget_exhausted and elapsed_ms < 400
    with ttft_budget(60_000), ttft_budget(1_000) as inner:  # a tighter inner one still applies
        left = inner.left()
        assert left is not None and left <= 1.0


def test_a_reserve_above_the_target_is_a_configuration_error():
    message = "reserve_ms=500 is larger than target_ms=200"
    with pytest.raises(ConfigurationError, match=message), ttft_budget(200, reserve_ms=500):
        pass


# -- 6. spec strings ---------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [None, 123, ["keyword"], b"keyword"])
def test_a_spec_that_is_not_a_string_is_a_configuration_error(spec):
    with pytest.raises(ConfigurationError, match="A reranker spec is a string"):
        from_spec(spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["cross-encoder:", "cohere:", "cross-encoder: "])
def test_an_empty_model_part_is_refused(spec):
    with pytest.raises(ConfigurationError, match="has an empty model part after ':'"):
        from_spec(spec, api_key="k")


@pytest.mark.parametrize("adapter", [RerankPostprocessor, RerankCompressor])
def test_a_spec_without_its_key_raises_the_package_error_in_the_adapters(adapter, monkeypatch):
    for var in ("CO_API_KEY", "COHERE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(AuthenticationError, match="CohereScorer needs an API key"):
        adapter(scorer="cohere:rerank-v3.5")
    built = adapter(scorer="keyword")
    with pytest.raises(AuthenticationError, match="CohereScorer needs an API key"):
        built.scorer = "cohere"
    assert built.scorer.backend == "keyword"


# -- 8. close / aclose / context managers on every scorer ----------------------------------------
def test_every_scorer_closes_and_then_works_again(server):
    cross = CrossEncoderScorer("bundled:scifact-minilm")
    scorers = [KeywordScorer(), cross, *llm_scorers(), *hosted(server)]
    for scorer in scorers:
        with scorer as same:
            assert same is scorer
            assert Reranker(scorer).rerank(QUERY, TEXTS).items[0].text == "the red fox"
        if scorer is cross:
            assert not cross.ready and not cross.loaded  # model and lanes released
        assert Reranker(scorer).rerank(QUERY, TEXTS).stats.scored == len(TEXTS)

        async def twice(scorer: Scorer = scorer) -> None:
            async with scorer:
                await Reranker(scorer).arerank(QUERY, TEXTS)
            await scorer.aclose()  # closing twice is harmless
            assert (await Reranker(scorer).arerank(QUERY, TEXTS)).stats.scored == len(TEXTS)

        asyncio.run(twice())
        scorer.close()
        scorer.close()
