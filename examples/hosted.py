"""Hosted rerank APIs (Cohere, Voyage AI) in LlamaIndex and in LangChain, with the core's budget,
retries and stats.

SciFact claims (bundled with rerank-plugins), each with a pool of abstracts that share its words
(the look-alikes a first-stage retriever returns), reranked by the provider's scorer
(``CohereScorer("rerank-v3.5")`` or ``VoyageScorer("rerank-2.5")``) through LlamaIndex's node
postprocessor (sync and async) and LangChain's document compressor; abstracts that answer the
claim are marked ✓. Then, against the local server only, a rate limit that the core retries
within the budget, and a rejected key that is raised at once.

With the provider's key set (``CO_API_KEY`` or ``COHERE_API_KEY``; ``VOYAGE_API_KEY``) it calls
the provider's API (a few search units, a few thousand tokens); without, it starts the local
test server and says so. A self-hosted engine that speaks Cohere's protocol (vLLM) is one
argument away: ``CohereScorer("BAAI/bge-reranker-v2-m3", base_url="http://vllm-host:8000",
api_key="unused")``.

Run: ``python examples/hosted.py --provider cohere`` (or ``voyage``; the default, ``all``, runs
both); needs ``rerank-plugins[cohere,voyage,llama-index,langchain]`` (or the one provider's extra).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from _hosted import KEYS, candidates, fault_demo, hosted_scorer, show
from langchain_core.documents import Document
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rerank_plugins.langchain import RerankCompressor
from rerank_plugins.llama_index import RerankPostprocessor

CI = bool(os.environ.get("CI"))


def run(provider: str) -> None:
    """The provider's scorer in both frameworks, then (local server only) its fault handling."""
    with hosted_scorer(provider) as (scorer, server):
        postprocessor = RerankPostprocessor(scorer=scorer, top_n=3, budget_ms=5000)
        compressor = RerankCompressor(scorer=scorer, top_n=3, budget_ms=5000)
        for claim, pool, relevant in candidates(n_claims=2 if CI else 4):
            print(f"\nClaim: {claim}")
            nodes = [NodeWithScore(node=TextNode(text=t, id_=i)) for i, t in pool]
            reranked = postprocessor.postprocess_nodes(nodes, query_bundle=QueryBundle(claim))
            show("LlamaIndex (sync)", [n.node.node_id for n in reranked], relevant)
            again = asyncio.run(postprocessor.apostprocess_nodes(nodes, QueryBundle(claim)))
            show("LlamaIndex (async)", [n.node.node_id for n in again], relevant)
            docs = [Document(page_content=t, id=i) for i, t in pool]
            kept = compressor.compress_documents(docs, claim)
            show("LangChain", [d.id or "" for d in kept], relevant)
        meta = kept[0].metadata
        print(
            f"\nFirst LangChain document: relevance_score={meta['relevance_score']:.3f}, "
            f"reranker={meta['reranker']}, retrieval_rank={meta['retrieval_rank']}"
        )
        if server is not None:
            fault_demo(server, provider)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--provider", choices=[*sorted(KEYS), "all"], default="all", help="whose API to call"
    )
    args = parser.parse_args()
    for provider in sorted(KEYS) if args.provider == "all" else [args.provider]:
        print(f"\n=== {provider} ===")
        run(provider)


if __name__ == "__main__":
    main()
