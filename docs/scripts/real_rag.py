"""A real RAG pipeline, measured: the lift that survives it, and where the time to the first token
goes.

1. **Consistency.** Every development claim through a real vector database (Qdrant, embedded, in
   memory) holding the whole corpus, with the rerank stage plugged in as a user writes it: a
   LlamaIndex retriever query engine (``node_postprocessors=[RerankPostprocessor]``) and a
   LangChain ``ContextualCompressionRetriever`` (``RerankCompressor``). The collections hold the
   all-MiniLM-L6-v2 embeddings the package ships (the vectors ``rerank-plugins eval`` searches);
   each framework embeds the claims with its own MiniLM wrapper. The ranking that reaches the LLM
   (its first 3 passages are the context) is scored with the evaluation's own metrics and set
   beside what ``rerank-plugins eval`` reports for the same first stage, K and reranker.
2. **Time to the first token.** ``--ttft-claims`` claims through the same Qdrant pipelines with
   Gemma 3 270M streaming the answer inside ``ttft_budget`` (the pipelines of
   ``examples/rag_ttft.py``): query embedding, vector search, rerank, the LLM's time to its first
   token, per query, drawn as one figure.

Writes ``tables/real-rag-consistency.md``, ``tables/real-rag-ttft.md`` and ``real-rag-ttft.png``.

Run: ``python docs/scripts/real_rag.py`` (about 5-8 minutes on 2 CPU cores: the reranker reads
20 abstracts for each of 162 claims once; the two frameworks and the evaluation share its scores).
"""

from __future__ import annotations

import statistics
import sys
from typing import Any

from _common import ROOT, load_data, machine_note, parser, pyplot, write_table

sys.path.insert(0, str(ROOT / "examples"))

K = 20
SHOWN = 10  # the reranked list scored for nDCG@10; its first 3 are the LLM's context
STAGES = ("embed", "search", "rerank", "llm", "other")
LABELS = {
    "embed": "query embedding",
    "search": "vector search",
    "rerank": "rerank (20 candidates)",
    "llm": "LLM to first token",
    "other": "the rest (prompt, framework)",
}


def corpus_vectors(data: Any) -> tuple[list[str], list[str], Any]:
    """Document ids, texts and the shipped all-MiniLM-L6-v2 embeddings (what ``eval`` searches)."""
    from rerank_plugins.evaluation.retrieval import make_retriever

    ds = data.dataset
    retriever = make_retriever("dense", ds.corpus, index_dirs=ds.index_dirs)
    vectors = retriever.index(progress=False)
    ids = list(retriever.doc_ids)
    return ids, [ds.document_text(d) for d in ids], vectors


def llama_index_over_qdrant(client: Any, ids: list[str], texts: list[str], vectors: Any) -> Any:
    from llama_index.core import Settings, StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from rag_ttft import minilm_path

    Settings.embed_model = HuggingFaceEmbedding(model_name=minilm_path())
    store = QdrantVectorStore(client=client, collection_name="scifact-llama-index")
    nodes = [
        TextNode(
            text=text,
            embedding=[float(x) for x in vec],
            metadata={"doc_id": doc_id},
            excluded_embed_metadata_keys=["doc_id"],
            excluded_llm_metadata_keys=["doc_id"],
        )
        for doc_id, text, vec in zip(ids, texts, vectors, strict=True)
    ]
    return VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(vector_store=store))


def langchain_over_qdrant(
    client: Any, ids: list[str], texts: list[str], vectors: Any, embeddings: Any
) -> Any:
    from langchain_qdrant import QdrantVectorStore
    from qdrant_client import models

    name = "scifact-langchain"
    client.create_collection(
        name, vectors_config=models.VectorParams(size=len(vectors[0]), distance="Cosine")
    )
    client.upsert(
        name,
        points=[
            models.PointStruct(
                id=i,
                vector=[float(x) for x in vec],
                payload={"page_content": text, "metadata": {"doc_id": doc_id}},
            )
            for i, (doc_id, text, vec) in enumerate(zip(ids, texts, vectors, strict=True))
        ],
    )
    return QdrantVectorStore(client=client, collection_name=name, embedding=embeddings)


def consistency(args: Any, data: Any, scorer: Any, index: Any, store: Any) -> str:
    from langchain_classic.retrievers import ContextualCompressionRetriever

    from rerank_plugins import Reranker
    from rerank_plugins.evaluation.retrieval import retrieve
    from rerank_plugins.evaluation.run import run_evaluation
    from rerank_plugins.langchain import RerankCompressor
    from rerank_plugins.llama_index import RerankPostprocessor

    ds = data.dataset
    hits = retrieve(ds, data.dev, kind="dense", k=K, progress=False)
    result = run_evaluation(ds, hits, Reranker(scorer), progress=False)
    evaluated = {o.query_id: list(o.after) for o in result.outcomes}
    first = {qid: [h.doc_id for h in hits[qid]] for qid in data.dev}

    retriever = index.as_retriever(similarity_top_k=K)
    rerank = RerankPostprocessor(scorer=scorer, top_n=SHOWN)
    compressing = ContextualCompressionRetriever(
        base_compressor=RerankCompressor(scorer=scorer, top_n=SHOWN),
        base_retriever=store.as_retriever(search_kwargs={"k": K}),
    )
    runs: dict[str, dict[str, dict[str, list[str]]]] = {
        "LlamaIndex": {"first": {}, "reranked": {}},
        "LangChain": {"first": {}, "reranked": {}},
    }
    for qid in data.dev:
        claim = ds.queries[qid]
        nodes = retriever.retrieve(claim)
        runs["LlamaIndex"]["first"][qid] = [n.node.metadata["doc_id"] for n in nodes]
        ranked = rerank.postprocess_nodes(nodes, query_str=claim)
        runs["LlamaIndex"]["reranked"][qid] = [n.node.metadata["doc_id"] for n in ranked]
        docs = store.as_retriever(search_kwargs={"k": K}).invoke(claim)
        runs["LangChain"]["first"][qid] = [d.metadata["doc_id"] for d in docs]
        runs["LangChain"]["reranked"][qid] = [
            d.metadata["doc_id"] for d in compressing.invoke(claim)
        ]

    def figures(rankings: dict[str, list[str]]) -> tuple[float, float]:
        ndcg = statistics.fmean(_metric("ndcg", rankings[q], ds, q, 10) for q in data.dev)
        p3 = statistics.fmean(_metric("precision", rankings[q], ds, q, 3) for q in data.dev)
        return ndcg, p3

    def same_context(a: dict[str, list[str]], b: dict[str, list[str]]) -> int:
        return sum(a[q][:3] == b[q][:3] for q in data.dev)

    rows = []
    n = len(data.dev)
    for stage, reference in (("first stage (top 20)", first), ("reranked", evaluated)):
        key = "first" if stage.startswith("first") else "reranked"
        ndcg, p3 = figures(reference)
        rows.append([f"`rerank-plugins eval`, {stage}", f"{ndcg:.3f}", f"{p3:.3f}", "-"])
        for framework, run in runs.items():
            ndcg, p3 = figures(run[key])
            agree = same_context(run[key], reference)
            rows.append(
                [f"{framework} + Qdrant, {stage}", f"{ndcg:.3f}", f"{p3:.3f}", f"{agree} of {n}"]
            )
    table = write_table(
        args.out / "tables" / "real-rag-consistency.md",
        ["ranking", "nDCG@10", "P@3", "claims whose top 3 equal eval's"],
        rows,
    )
    return table + (
        f"\n{n} development claims of {data.source}; {len(ds.corpus):,} abstracts in Qdrant "
        f"(in memory); first stage all-MiniLM-L6-v2, K = {K}; reranker {args.reranker} "
        f"(fp32 torch, as `eval`). The top 3 of each reranked list is the context the LLM reads.\n"
    )


def _metric(name: str, ranked: list[str], ds: Any, qid: str, k: int) -> float:
    from rerank_plugins.evaluation import metrics

    fn = metrics.ndcg_at if name == "ndcg" else metrics.precision_at
    return fn(ranked, ds.qrels.get(qid, {}), k)


def time_to_first_token(args: Any, data: Any, index: Any, store: Any) -> str:
    from rag_ttft import RESERVE_MS, TARGET_MS, langchain_runs, llama_index_runs

    from rerank_plugins import CrossEncoderScorer

    claims = [data.dataset.queries[q] for q in data.dev[: args.ttft_claims]]
    # No score cache: a claim scored by the consistency run, or by the other framework, would
    # take 0 ms. The default runtime, as a user gets it.
    scorer = CrossEncoderScorer(args.reranker, score_cache_size=0)
    scorer.prepare()
    runs = [
        *llama_index_runs(index, scorer, claims, args.max_new_tokens),
        *langchain_runs(store, scorer, claims, args.max_new_tokens),
    ]
    frameworks = ["LlamaIndex", "LangChain"]
    for run in runs:  # what no stage accounts for: building the prompt, the framework's own work
        run.ms["other"] = max(0.0, run.ms["first_token"] - sum(run.ms[s] for s in STAGES[:-1]))
    # Means, so that the stages add up to the total (medians do not); the table adds the median.
    means = {
        fw: {s: statistics.fmean(r.ms[s] for r in runs if r.framework == fw) for s in STAGES}
        for fw in frameworks
    }
    totals = {fw: sum(means[fw].values()) for fw in frameworks}
    medians = {
        fw: statistics.median(r.ms["first_token"] for r in runs if r.framework == fw)
        for fw in frameworks
    }
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 2.6))
    colours = {
        "embed": "#8da0cb",
        "search": "#66c2a5",
        "rerank": "#fc8d62",
        "llm": "#bbbbbb",
        "other": "#e5e5e5",
    }
    for row, fw in enumerate(frameworks):
        left = 0.0
        for stage in STAGES:
            width = means[fw][stage]
            label = LABELS[stage] if row == 0 else None
            ax.barh(row, width, left=left, color=colours[stage], label=label)
            left += width
        ax.text(left, row, f"  {totals[fw]:,.0f} ms", va="center")
    ax.set_yticks(range(len(frameworks)), frameworks)
    ax.invert_yaxis()
    ax.set_xlabel(f"milliseconds to the first token (mean of {len(claims)} claims)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.45), ncol=3, frameon=False, fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "real-rag-ttft.png", bbox_inches="tight")
    rows = [
        [fw, *[f"{means[fw][s]:,.0f}" for s in STAGES], f"{totals[fw]:,.0f}", f"{medians[fw]:,.0f}"]
        for fw in frameworks
    ]
    runtime = scorer.runtime
    table = write_table(
        args.out / "tables" / "real-rag-ttft.md",
        [
            "framework",
            *[f"{LABELS[s]} (ms)" for s in STAGES],
            "to first token (ms)",
            "median to first token (ms)",
        ],
        rows,
    )
    return table + (
        f"\nMeans of {len(claims)} development claims per framework (the stages add up to the "
        f"total), one run; Qdrant in memory "
        f"over {len(data.dataset.corpus):,} abstracts; the bundled reranker on `{runtime}` "
        '(`runtime="auto"`); Gemma 3 270M (from its Q4_K_M GGUF file, de-quantised to float32) '
        "on the CPU, streaming; each query inside "
        f"`ttft_budget({TARGET_MS}, reserve_ms={RESERVE_MS})`. {machine_note()}\n"
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--ttft-claims", type=int, default=10, help="claims timed per framework")
    p.add_argument("--max-new-tokens", type=int, default=16, help="tokens Gemma writes")
    p.add_argument(
        "--skip-ttft", action="store_true", help="only the consistency table (no LLM run)"
    )
    p.add_argument(
        "--skip-consistency", action="store_true", help="only the time-to-first-token run"
    )
    args = p.parse_args()
    from qdrant_client import QdrantClient
    from rag_ttft import timed_embeddings

    from rerank_plugins import CrossEncoderScorer

    data = load_data(args)
    ids, texts, vectors = corpus_vectors(data)
    client = QdrantClient(location=":memory:")
    index = llama_index_over_qdrant(client, ids, texts, vectors)
    store = langchain_over_qdrant(client, ids, texts, vectors, timed_embeddings())
    if not args.skip_consistency:
        # One scorer for the evaluation and both frameworks: each pair is read once (its cache).
        scorer = CrossEncoderScorer(args.reranker, runtime="torch", max_length=args.max_length)
        scorer.prepare()
        print(consistency(args, data, scorer, index, store))
    if not args.skip_ttft:
        print(time_to_first_token(args, data, index, store))


if __name__ == "__main__":
    main()
