"""The entry points the contract suite drives: the core, LlamaIndex and LangChain, sync and async.

Each builds its own framework objects from plain texts, runs one call, checks the inputs were not
touched, and returns a uniform :class:`Outcome` so one test body covers every entry point.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import dataclass, field
from typing import Any

from rerank_plugins import Reranker, Scorer


@dataclass
class Item:
    index: int  # input position (retrieval rank)
    text: str
    score: float | None
    raw_score: float | None
    id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class Outcome:
    items: list[Item]
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        return [item.text for item in self.items]

    @property
    def indices(self) -> list[int]:
        return [item.index for item in self.items]


class Entry:
    id: str
    is_async: bool

    def build(self, scorer: Scorer, **options: Any) -> Any:
        raise NotImplementedError

    def run(self, built: Any, query: str | None, texts: list[str]) -> Outcome:
        raise NotImplementedError

    def _call(self, sync: Any, asyn: Any) -> Any:
        return asyncio.run(asyn()) if self.is_async else sync()


class CoreEntry(Entry):
    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.id = "core-async" if is_async else "core-sync"

    def build(self, scorer: Scorer, **options: Any) -> Reranker:
        return Reranker(scorer, **options)

    def run(self, built: Reranker, query: str | None, texts: list[str]) -> Outcome:
        before = list(texts)
        result = self._call(lambda: built.rerank(query, texts), lambda: built.arerank(query, texts))
        assert texts == before, "the core changed its input list"
        items = [Item(i.index, i.text, i.score, i.raw_score) for i in result.items]
        return Outcome(items, result.stats.as_dict())


class _StatsSink:
    """Collects the stats LlamaIndex's dispatcher emits (RerankStatsEvent)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []


_LLAMA_SINK = _StatsSink()
_LLAMA_HANDLER_ADDED = False


def _llama_sink() -> _StatsSink:
    global _LLAMA_HANDLER_ADDED
    if not _LLAMA_HANDLER_ADDED:
        from llama_index.core.instrumentation import get_dispatcher
        from llama_index.core.instrumentation.event_handlers import BaseEventHandler

        from rerank_plugins.llama_index import RerankStatsEvent

        class Handler(BaseEventHandler):
            @classmethod
            def class_name(cls) -> str:
                return "ContractStatsHandler"

            def handle(self, event: Any, **kwargs: Any) -> None:
                if isinstance(event, RerankStatsEvent):
                    _LLAMA_SINK.events.append(event.stats)

        get_dispatcher().add_event_handler(Handler())
        _LLAMA_HANDLER_ADDED = True
    return _LLAMA_SINK


class LlamaIndexEntry(Entry):
    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.id = "llama-index-async" if is_async else "llama-index-sync"

    def build(self, scorer: Scorer, **options: Any) -> Any:
        from rerank_plugins.llama_index import RerankPostprocessor

        return RerankPostprocessor(scorer=scorer, **options)

    def run(self, built: Any, query: str | None, texts: list[str]) -> Outcome:
        from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

        nodes = [
            NodeWithScore(
                node=TextNode(
                    text=text,
                    id_=f"node-{i}",
                    metadata={"source": f"s{i}"},
                    excluded_embed_metadata_keys=["source"],
                ),
                score=1.0 - i / 100,
            )
            for i, text in enumerate(texts)
        ]
        snapshot = [copy.deepcopy(n.model_dump()) for n in nodes]
        bundle = None if query is None else QueryBundle(query)
        sink = _llama_sink()
        seen = len(sink.events)
        out = self._call(
            lambda: built.postprocess_nodes(nodes, query_bundle=bundle),
            lambda: built.apostprocess_nodes(nodes, query_bundle=bundle),
        )
        assert [n.model_dump() for n in nodes] == snapshot, "LlamaIndex input nodes were mutated"
        items = []
        for n in out:
            meta = dict(n.node.metadata)
            assert n.score == meta["relevance_score"]
            items.append(
                Item(
                    meta["retrieval_rank"],
                    n.node.get_content(),
                    n.score,
                    meta["rerank_raw_score"],
                    n.node.node_id,
                    meta,
                )
            )
        stats = sink.events[-1] if len(sink.events) > seen else {}
        return Outcome(items, stats)


class LangChainEntry(Entry):
    def __init__(self, is_async: bool) -> None:
        self.is_async = is_async
        self.id = "langchain-async" if is_async else "langchain-sync"

    def build(self, scorer: Scorer, **options: Any) -> Any:
        from rerank_plugins.langchain import RerankCompressor

        return RerankCompressor(scorer=scorer, **options)

    def run(self, built: Any, query: str | None, texts: list[str]) -> Outcome:
        from langchain_core.callbacks import BaseCallbackHandler
        from langchain_core.documents import Document

        from rerank_plugins.langchain import STATS_EVENT

        stats: list[dict[str, Any]] = []

        class Handler(BaseCallbackHandler):
            def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
                if name == STATS_EVENT:
                    stats.append(data)

        docs = [
            Document(
                page_content=t, id=f"doc-{i}", metadata={"source": f"s{i}", "score": 1 - i / 100}
            )
            for i, t in enumerate(texts)
        ]
        snapshot = [copy.deepcopy(d.model_dump()) for d in docs]
        q: Any = query
        out = self._call(
            lambda: built.compress_documents(docs, q, callbacks=[Handler()]),
            lambda: built.acompress_documents(docs, q, callbacks=[Handler()]),
        )
        assert [d.model_dump() for d in docs] == snapshot, "LangChain input documents were mutated"
        items = [
            Item(
                d.metadata["retrieval_rank"],
                d.page_content,
                d.metadata["relevance_score"],
                d.metadata["rerank_raw_score"],
                d.id,
                dict(d.metadata),
            )
            for d in out
        ]
        return Outcome(items, stats[-1] if stats else {})


ENTRIES: list[Entry] = [
    CoreEntry(False),
    CoreEntry(True),
    LlamaIndexEntry(False),
    LlamaIndexEntry(True),
    LangChainEntry(False),
    LangChainEntry(True),
]
