"""Does an LLM's query likelihood rank real claims better than the first stage? The check made
before the teacher run of experiments/corpus_teacher.sh, on *training* claims only (never a
development claim): every 12th training claim of the project's split (up to ``--claims``), its
top-20 from all-MiniLM-L6-v2, reranked by Gemma 3 270M's query likelihood with the teacher's
prompt. Prints nDCG@10 and P@3 of both, the CPU and the load.

Run: ``python experiments/teacher_check.py SCIFACT_DIR [--claims 49]`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROMPT = "Abstract: {passage}\nA claim this abstract supports:"
"""The prompt of experiments/corpus_teacher.sh's teacher."""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", help="SciFact in BEIR layout, with the training qrels")
    parser.add_argument("--claims", type=int, default=49)
    args = parser.parse_args()
    from rerank_plugins.evaluation.beir import dev_train_split, load_beir
    from rerank_plugins.evaluation.metrics import ndcg_at, precision_at
    from rerank_plugins.evaluation.retrieval import retrieve
    from rerank_plugins.models.gemma import load_gemma
    from rerank_plugins.scorers.local import cpu_name
    from rerank_plugins.scorers.query_likelihood import QueryLikelihoodScorer

    load = [round(x, 2) for x in os.getloadavg()]
    ds = load_beir(args.data, split="train")
    _, train = dev_train_split(ds)
    ids = train[::12][: args.claims]
    hits = retrieve(ds, ids, k=20, progress=False)
    gemma = load_gemma()
    teacher = QueryLikelihoodScorer(gemma.model, tokenizer=gemma.tokenizer, prompt=PROMPT)
    sums = {"first stage": [0.0, 0.0], "query likelihood": [0.0, 0.0]}
    for qid in ids:
        docs = [h.doc_id for h in hits[qid]]
        scores = teacher.log_likelihoods(ds.queries[qid], [ds.document_text(d) for d in docs])
        reranked = [d for _, d in sorted(zip(scores, docs, strict=True), key=lambda x: -x[0])]
        for name, ranking in (("first stage", docs), ("query likelihood", reranked)):
            sums[name][0] += ndcg_at(ranking, ds.qrels[qid], 10)
            sums[name][1] += precision_at(ranking, ds.qrels[qid], 3)
    print(f"{cpu_name()}, load {load} -> {[round(x, 2) for x in os.getloadavg()]}; "
          f"{len(ids)} training claims (every 12th), top 20 from all-MiniLM-L6-v2")  # fmt: skip
    for name, (ndcg, p3) in sums.items():
        print(f"  {name:17s} nDCG@10 {ndcg / len(ids):.3f}  P@3 {p3 / len(ids):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
