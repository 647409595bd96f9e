"""What LlamaIndex users see beyond the contract: events, span, callbacks, metadata hiding."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from llama_index.core.callbacks import CallbackManager, CBEventType, LlamaDebugHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.instrumentation.span_handlers import SimpleSpanHandler
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from rerank_plugins import METADATA_KEYS
from rerank_plugins.llama_index import RerankPostprocessor, RerankStatsEvent
from rerank_plugins.testing import KeywordScorer


class Recorder(BaseEventHandler):
    events: list[Any] = []

    @classmethod
    def class_name(cls) -> str:
        return "Recorder"

    def handle(self, event: Any, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    rec = Recorder()
    get_dispatcher().add_event_handler(rec)
    return rec


@pytest.fixture(scope="module")
def spans() -> SimpleSpanHandler:
    handler = SimpleSpanHandler()
    get_dispatcher().add_span_handler(handler)
    return handler


def nodes() -> list[NodeWithScore]:
    texts = ["green pear", "red apple", "apple pie"]
    return [
        NodeWithScore(
            node=TextNode(text=t, id_=f"n{i}", metadata={"author": "x"}), score=0.9 - i / 10
        )
        for i, t in enumerate(texts)
    ]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_emits_rerank_events_span_and_legacy_callback(mode, recorder, spans):
    debug = LlamaDebugHandler()
    post = RerankPostprocessor(
        scorer=KeywordScorer(), top_n=2, callback_manager=CallbackManager([debug])
    )
    recorder.events.clear()
    spans_before = len(spans.completed_spans)
    if mode == "sync":
        out = post.postprocess_nodes(nodes(), query_str="red apple")
    else:
        out = asyncio.run(post.apostprocess_nodes(nodes(), query_str="red apple"))
    kinds = [type(e) for e in recorder.events]
    assert kinds.count(ReRankStartEvent) == 1
    assert kinds.count(ReRankEndEvent) == 1
    assert kinds.count(RerankStatsEvent) == 1
    start = next(e for e in recorder.events if isinstance(e, ReRankStartEvent))
    assert start.model_name == "keyword:word-overlap" and start.top_n == 2
    end = next(e for e in recorder.events if isinstance(e, ReRankEndEvent))
    assert [n.node.node_id for n in end.nodes] == [n.node.node_id for n in out]
    stats = next(e for e in recorder.events if isinstance(e, RerankStatsEvent)).stats
    assert stats["returned"] == 2 and stats["candidates_in"] == 3
    new_spans = spans.completed_spans[spans_before:]
    assert any("RerankPostprocessor" in s.id_ for s in new_spans), [s.id_ for s in new_spans]
    pairs = debug.get_event_pairs(CBEventType.RERANKING)
    assert len(pairs) == 1
    assert pairs[0][1].payload["rerank_stats"]["returned"] == 2


def test_contract_metadata_is_hidden_from_llm_and_embedder():
    out = RerankPostprocessor(scorer=KeywordScorer()).postprocess_nodes(nodes(), query_str="apple")
    for n in out:
        for mode in (MetadataMode.LLM, MetadataMode.EMBED):
            content = n.node.get_content(metadata_mode=mode)
            assert "author: x" in content  # the caller's own metadata still shows
            for key in METADATA_KEYS:
                assert key not in content


def test_serialises_without_the_scorer_object():
    post = RerankPostprocessor(scorer=KeywordScorer(), top_n=3, budget_ms=250)
    data = json.loads(post.to_json())
    assert data["scorer"] == {
        "class": "KeywordScorer",
        "backend": "keyword",
        "model": "word-overlap",
    }
    assert data["top_n"] == 3 and data["budget_ms"] == 250
    assert data["class_name"] == "RerankPostprocessor"


def test_query_bundle_none_is_a_clear_value_error():
    post = RerankPostprocessor(scorer=KeywordScorer())
    with pytest.raises(ValueError, match="needs a query to rerank against, got None"):
        post.postprocess_nodes(nodes(), query_bundle=None)
