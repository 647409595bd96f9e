"""LangChain adapter: a document compressor around the core.

Drop it into a ``ContextualCompressionRetriever``::

    from langchain_classic.retrievers import ContextualCompressionRetriever
    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.langchain import RerankCompressor

    compressor = RerankCompressor(scorer=CrossEncoderScorer("bundled:scifact-minilm"), top_n=3)
    retriever = ContextualCompressionRetriever(
        base_compressor=compressor, base_retriever=vectorstore.as_retriever(search_kwargs={"k": 20})
    )

It returns new ``Document`` objects (ids kept, the caller's documents never mutated) with the
contract's metadata keys, and reports each call's stats to LangChain callbacks as a custom event
named ``"rerank_plugins.rerank"`` (see ``BaseCallbackHandler.on_custom_event``).

Framework differences, documented: LangChain documents carry no first-stage score of their own,
so ``retrieval_score`` is read from the document's metadata (``relevance_score``, else ``score``)
when a number is there, else ``None``.
"""

from __future__ import annotations

import copy
import uuid

from rerank_plugins._optional import require

require("langchain_core", extra="langchain", who="rerank_plugins.langchain")

from collections.abc import Sequence

from langchain_core.callbacks import AsyncCallbackManager, CallbackManager, Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document

from rerank_plugins._adapter import RerankFields
from rerank_plugins._core import RerankResult, candidate_metadata

__all__ = ["STATS_EVENT", "RerankCompressor"]

STATS_EVENT = "rerank_plugins.rerank"
"""Name of the custom callback event that carries each call's stats."""


class RerankCompressor(RerankFields, BaseDocumentCompressor):
    """Reranks retrieved documents with any rerank-plugins scorer.

    Its arguments are its fields: ``scorer`` (a scorer or its spec string) and every option of
    the contract, inherited from :class:`~rerank_plugins.RerankOptions` (how many documents to
    return, the budget, ...), live and strict.

    Example:
        >>> from langchain_core.documents import Document
        >>> from rerank_plugins.testing import KeywordScorer
        >>> compressor = RerankCompressor(scorer=KeywordScorer(), top_n=1)
        >>> docs = [Document("dogs", id="a"), Document("cats", id="b")]
        >>> compressor.compress_documents(docs, "cats")[0].id
        'b'
    """

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Rerank ``documents`` for ``query``; returns new documents, best first."""
        result = self._reranker.rerank(
            query,
            [doc.page_content for doc in documents],
            retrieval_scores=[_first_stage_score(doc) for doc in documents],
        )
        manager = CallbackManager.configure(inheritable_callbacks=callbacks)
        if manager.handlers:
            manager.on_custom_event(
                STATS_EVENT, result.stats.as_dict(), run_id=manager.parent_run_id or uuid.uuid4()
            )
        return self._finish(documents, result)

    async def acompress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        """Async twin of :meth:`compress_documents` (native: the scorer's async path)."""
        result = await self._reranker.arerank(
            query,
            [doc.page_content for doc in documents],
            retrieval_scores=[_first_stage_score(doc) for doc in documents],
        )
        manager = AsyncCallbackManager.configure(inheritable_callbacks=callbacks)
        if manager.handlers:
            await manager.on_custom_event(
                STATS_EVENT, result.stats.as_dict(), run_id=manager.parent_run_id or uuid.uuid4()
            )
        return self._finish(documents, result)

    def _finish(self, documents: Sequence[Document], result: RerankResult) -> list[Document]:
        out = []
        for item in result.items:
            doc = documents[item.index]
            meta = candidate_metadata(
                item, reranker=self.scorer.name, retrieval_score=_first_stage_score(doc)
            )
            metadata = {**copy.deepcopy(doc.metadata), **meta}
            out.append(doc.model_copy(update={"metadata": metadata}))
        return out


def _first_stage_score(doc: Document) -> float | None:
    for key in ("relevance_score", "score"):
        value = doc.metadata.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None
