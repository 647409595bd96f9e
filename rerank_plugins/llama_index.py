"""LlamaIndex adapter: a node postprocessor around the core.

Drop it into a query engine::

    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.llama_index import RerankPostprocessor

    rerank = RerankPostprocessor(scorer=CrossEncoderScorer("bundled:scifact-minilm"), top_n=3)
    engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank])

It returns new ``NodeWithScore`` objects (the caller's nodes are never mutated, ids are kept) whose
``score`` is the normalised relevance and whose metadata carries the contract's keys, excluded from
the text sent to the LLM and to the embedder. It emits LlamaIndex's ``ReRankStartEvent`` /
``ReRankEndEvent``, a span, the legacy ``CBEventType.RERANKING`` callback event, and a
:class:`RerankStatsEvent` with the call's stats, for sync and async alike.

Framework differences, documented: LlamaIndex passes ``query_bundle=None`` when there is no query
(a :class:`~rerank_plugins.InvalidInputError`); the text scored is the node's content with its
embed-visible metadata (``MetadataMode.EMBED``), as LlamaIndex's own rerankers do.
"""

from __future__ import annotations

from rerank_plugins._optional import require

require("llama_index.core", extra="llama-index", who="rerank_plugins.llama_index")

import contextlib
import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from llama_index.core.callbacks import CBEventType, EventPayload
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.rerank import ReRankEndEvent, ReRankStartEvent
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from rerank_plugins._adapter import RerankFields
from rerank_plugins._core import (
    METADATA_KEYS,
    RerankResult,
    candidate_metadata,
)

__all__ = ["RerankPostprocessor", "RerankStatsEvent"]

dispatcher = get_dispatcher(__name__)


class RerankStatsEvent(BaseEvent):
    """The stats of one rerank call (see :class:`~rerank_plugins.RerankStats`)."""

    stats: dict[str, Any]

    @classmethod
    def class_name(cls) -> str:
        return "RerankStatsEvent"


@dataclass
class _Call:
    """One postprocessing call: what is reranked, then its result and the new nodes."""

    query: str | None
    texts: list[str]
    retrieval_scores: list[float | None]
    result: RerankResult | None = None
    out: list[NodeWithScore] = field(default_factory=list)


class RerankPostprocessor(RerankFields, BaseNodePostprocessor):
    """Reranks retrieved nodes with any rerank-plugins scorer.

    Its arguments are its fields: ``scorer`` (a scorer or its spec string) and every option of
    the contract, inherited from :class:`~rerank_plugins.RerankOptions` (how many nodes to
    return, the budget, ...), live and strict: an unknown name (``topn=3``) is refused.

    Example:
        >>> from llama_index.core.schema import NodeWithScore, TextNode
        >>> from rerank_plugins.testing import KeywordScorer
        >>> post = RerankPostprocessor(scorer=KeywordScorer(), top_n=1)
        >>> nodes = [NodeWithScore(node=TextNode(text=t), score=0.5) for t in ["dogs", "cats"]]
        >>> post.postprocess_nodes(nodes, query_str="cats")[0].node.text
        'cats'
    """

    @classmethod
    def class_name(cls) -> str:
        return "RerankPostprocessor"

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._reranking(nodes, query_bundle) as call:
            call.result = self._reranker.rerank(
                call.query, call.texts, retrieval_scores=call.retrieval_scores
            )
        return call.out

    @dispatcher.span
    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        with self._reranking(nodes, query_bundle) as call:
            call.result = await self._reranker.arerank(
                call.query, call.texts, retrieval_scores=call.retrieval_scores
            )
        return call.out

    @contextlib.contextmanager
    def _reranking(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None
    ) -> Iterator[_Call]:
        """What the sync and async paths share around the rerank itself: the start event, the
        legacy callback event around the call, and the new nodes made of its result."""
        query, texts = self._start(nodes, query_bundle)
        with self.callback_manager.event(
            CBEventType.RERANKING, payload=self._payload(nodes, query)
        ) as event:
            call = _Call(query, texts, [n.score for n in nodes])
            yield call
            assert call.result is not None, "the rerank sets call.result"
            call.out = self._finish(nodes, call.result)
            event.on_end(
                payload={EventPayload.NODES: call.out, "rerank_stats": call.result.stats.as_dict()}
            )

    def _start(
        self, nodes: Sequence[NodeWithScore], query_bundle: QueryBundle | None
    ) -> tuple[str | None, list[str]]:
        dispatcher.event(
            ReRankStartEvent(
                query=query_bundle,
                nodes=list(nodes),
                top_n=self.top_n or len(nodes),
                model_name=self.scorer.name,
            )
        )
        query = None if query_bundle is None else query_bundle.query_str
        texts = [n.node.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        return query, texts

    def _payload(self, nodes: list[NodeWithScore], query: str | None) -> dict[str, Any]:
        return {
            EventPayload.NODES: nodes,
            EventPayload.MODEL_NAME: self.scorer.name,
            EventPayload.QUERY_STR: query,
            EventPayload.TOP_K: self.top_n,
        }

    def _finish(self, nodes: Sequence[NodeWithScore], result: RerankResult) -> list[NodeWithScore]:
        out = []
        for item in result.items:
            original = nodes[item.index]
            meta = candidate_metadata(
                item, reranker=self.scorer.name, retrieval_score=original.score
            )
            out.append(self._new_node(original, meta, item.score))
        dispatcher.event(ReRankEndEvent(nodes=out))
        dispatcher.event(RerankStatsEvent(stats=result.stats.as_dict()))
        return out

    @staticmethod
    def _new_node(
        original: NodeWithScore, metadata: dict[str, Any], score: float | None
    ) -> NodeWithScore:
        node = original.node
        new = node.model_copy(
            update={
                "metadata": {**copy.deepcopy(node.metadata), **metadata},
                "excluded_llm_metadata_keys": _with_keys(node.excluded_llm_metadata_keys),
                "excluded_embed_metadata_keys": _with_keys(node.excluded_embed_metadata_keys),
            }
        )
        return NodeWithScore(node=new, score=score)


def _with_keys(existing: list[str]) -> list[str]:
    return [*existing, *(key for key in METADATA_KEYS if key not in existing)]
