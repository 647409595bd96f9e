"""A rerank stage over a real vector database: Chroma, embedded (in-process, no server to run).

SciFact abstracts bundled with rerank-plugins go into a Chroma collection, embedded by the local
all-MiniLM-L6-v2 through each framework's own embedding class; the rerank stage plugs in as you
would write it: ``node_postprocessors=[...]`` in a LlamaIndex query engine, and a LangChain
``ContextualCompressionRetriever`` over the Chroma retriever. For each claim it prints the vector
search's top 3 and the reranked top 3 (✓ marks an abstract that answers the claim).

Run: ``python examples/vector_database.py`` (needs ``rerank-plugins[local,llama-index,langchain]``,
``chromadb``, ``llama-index-vector-stores-chroma``, ``langchain-chroma``,
``llama-index-embeddings-huggingface`` and ``langchain-huggingface``).
"""

from __future__ import annotations

import chromadb
from _scifact import CI, load_task, mark, minilm_path, precision_at_3
from chromadb.config import Settings as ChromaSettings

from rerank_plugins import CrossEncoderScorer

K = 20


def chroma_client() -> chromadb.ClientAPI:
    # In memory, no telemetry (in-memory clients of one process share their collections: each
    # pipeline names its own); chromadb.PersistentClient(path=...) keeps them on disk.
    return chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))


def with_llama_index(task, scorer) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.llms.mock import MockLLM
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    from rerank_plugins.llama_index import RerankPostprocessor

    collection = chroma_client().create_collection(
        "scifact-llama-index", metadata={"hnsw:space": "cosine"}
    )
    index = VectorStoreIndex.from_documents(
        [Document(text=text, id_=doc_id) for doc_id, text in task.docs.items()],
        storage_context=StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        ),
        embed_model=HuggingFaceEmbedding(model_name=minilm_path()),
    )
    rerank = RerankPostprocessor(scorer=scorer, top_n=3)
    engine = index.as_query_engine(
        similarity_top_k=K, node_postprocessors=[rerank], llm=MockLLM(max_tokens=8)
    )
    vector_only = index.as_retriever(similarity_top_k=3)
    before, after = [], []
    for qid, claim in task.claims.items():
        plain = [n.node.ref_doc_id or "" for n in vector_only.retrieve(claim)]
        reranked = [n.node.ref_doc_id or "" for n in engine.query(claim).source_nodes]
        show(claim, plain, reranked, task.relevant[qid])
        before.append(precision_at_3(plain, task.relevant[qid]))
        after.append(precision_at_3(reranked, task.relevant[qid]))
    return before, after


def with_langchain(task, scorer) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
    from langchain_chroma import Chroma
    from langchain_classic.retrievers import ContextualCompressionRetriever
    from langchain_huggingface import HuggingFaceEmbeddings

    from rerank_plugins.langchain import RerankCompressor

    store = Chroma.from_texts(
        list(task.docs.values()),
        HuggingFaceEmbeddings(model_name=minilm_path()),
        metadatas=[{"id": doc_id} for doc_id in task.docs],
        client=chroma_client(),
        collection_name="scifact-langchain",
        collection_metadata={"hnsw:space": "cosine"},
    )
    retriever = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(scorer=scorer, top_n=3),
        base_retriever=store.as_retriever(search_kwargs={"k": K}),
    )
    before, after = [], []
    for qid, claim in task.claims.items():
        plain = [d.metadata["id"] for d in store.similarity_search(claim, k=3)]
        reranked = [d.metadata["id"] for d in retriever.invoke(claim)]
        show(claim, plain, reranked, task.relevant[qid])
        before.append(precision_at_3(plain, task.relevant[qid]))
        after.append(precision_at_3(reranked, task.relevant[qid]))
    return before, after


def show(claim: str, plain: list[str], reranked: list[str], relevant: set[str]) -> None:
    print(f"\nClaim: {claim}")
    print("  vector top 3:   " + "  ".join(f"{mark(d, relevant)} {d}" for d in plain))
    print("  reranked top 3: " + "  ".join(f"{mark(d, relevant)} {d}" for d in reranked))


def main() -> None:
    task = load_task(n_claims=2 if CI else 4, lookalikes=20 if CI else 30)
    scorer = CrossEncoderScorer("bundled:scifact-minilm")  # one scorer, shared by both pipelines
    for name, run in (("LlamaIndex", with_llama_index), ("LangChain", with_langchain)):
        print(f"\n== {name} over Chroma ({len(task.docs)} abstracts, top {K} reranked to 3)")
        before, after = run(task, scorer)
        n = len(before)
        print(f"\n{name}: P@3 over {n} claims: vector search {sum(before) / n:.2f}, "
              f"reranked {sum(after) / n:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
