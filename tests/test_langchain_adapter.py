"""What LangChain users see beyond the contract: callbacks and serialisation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.documents import Document

from rerank_plugins.langchain import STATS_EVENT, RerankCompressor
from rerank_plugins.testing import KeywordScorer


class Sink(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        self.events.append((name, data))


DOCS = [Document("green pear", id="a"), Document("red apple", id="b"), Document("apple", id="c")]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_stats_reach_callbacks(mode):
    sink = Sink()
    compressor = RerankCompressor(scorer=KeywordScorer(), top_n=2)
    if mode == "sync":
        out = compressor.compress_documents(DOCS, "red apple", callbacks=[sink])
    else:
        out = asyncio.run(compressor.acompress_documents(DOCS, "red apple", callbacks=[sink]))
    assert [d.id for d in out] == ["b", "c"]
    assert [name for name, _ in sink.events] == [STATS_EVENT]
    stats = sink.events[0][1]
    assert stats["returned"] == 2 and stats["backend"] == "keyword"


def test_serialises_without_the_scorer_object():
    compressor = RerankCompressor(scorer=KeywordScorer(), top_n=3)
    data = compressor.model_dump()
    assert data["scorer"] == {
        "class": "KeywordScorer",
        "backend": "keyword",
        "model": "word-overlap",
    }
    assert '"top_n":3' in compressor.model_dump_json()


def test_first_stage_score_is_read_from_metadata():
    docs = [Document("red apple", metadata={"score": 0.7}), Document("pear", metadata={})]
    out = RerankCompressor(scorer=KeywordScorer()).compress_documents(docs, "apple")
    assert out[0].metadata["retrieval_score"] == 0.7
    assert out[1].metadata["retrieval_score"] is None
