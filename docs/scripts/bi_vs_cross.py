"""Bi-encoders and cross-encoders: what each reads, what each costs, what each gets right.

Takes P@3 and nDCG@10 of each on the same claims, and what each costs from the one latency run
the docs trust (``benchmarks/bench_local.py``, its record ``benchmarks/results/bench_local.json``,
shown on the "Fast local reranking" page): the bi-encoder's work per query (embed the query,
search the corpus), the corpus indexing it pays once, and the cross-encoder's 20 pairs at the
bundled model's settings. No timing of its own. Writes ``docs/assets/tables/bi-vs-cross.md``.

Run: ``python docs/scripts/bi_vs_cross.py`` (bundled SciFact dev claims and bundled reranker).
"""

from __future__ import annotations

import json

import _common as c

K = 20


BENCH = c.ROOT / "benchmarks" / "results" / "bench_local.json"
DEFAULT_ROW = "CrossEncoderScorer torch @256 windows"  # the bundled model's settings, fp32


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    args = p.parse_args()
    data = c.load_data(args)
    hits = c.first_stage(data, K)
    raw = c.rerank_scores(args, data, hits, K)
    bench = json.loads(BENCH.read_text())
    first_stage = bench["first_stage"]
    rerank_ms = bench["latency"][DEFAULT_ROW]["p50_ms"]
    index_ms_per_doc = first_stage["corpus_ms_per_document"]

    before = {q: [d for d, _ in hits[q]] for q in data.dev}
    after = {q: c.rerank_order(before[q], raw[q]) for q in data.dev}
    sims = {q: [s for _, s in hits[q]] for q in data.dev}
    mixed = {q: c.rerank_order(before[q], raw[q], sims[q], c.BLEND) for q in data.dev}
    p3m = c.mean([c.metric("precision", mixed[q], data, q, 3) for q in data.dev])
    nm = c.mean([c.metric("ndcg", mixed[q], data, q, 10) for q in data.dev])
    p3b = c.mean([c.metric("precision", before[q], data, q, 3) for q in data.dev])
    p3a = c.mean([c.metric("precision", after[q], data, q, 3) for q in data.dev])
    nb = c.mean([c.metric("ndcg", before[q], data, q, 10) for q in data.dev])
    na = c.mean([c.metric("ndcg", after[q], data, q, 10) for q in data.dev])
    n_docs = len(data.dataset.corpus)
    rows = [
        [
            "reads",
            "the claim alone; each abstract alone, ahead of time",
            "the claim and one abstract together, token against token",
        ],
        ["model", "all-MiniLM-L6-v2 (mean-pooled embedding)", f"{args.reranker} (one logit)"],
        [
            "work ahead of time",
            f"embed the corpus: {index_ms_per_doc:.1f} ms per abstract "
            f"({index_ms_per_doc * n_docs / 1000:.0f} s for {n_docs})",
            "none",
        ],
        ["forward passes per query", "1 (the query)", f"{K} (one per candidate)"],
        [
            "latency per query, p50",
            f"{first_stage['embed_p50_ms']:.0f} ms embed + "
            f"{first_stage['search_p50_ms']:.1f} ms search of {n_docs}",
            f"{rerank_ms:.0f} ms for {K} candidates (fp32 PyTorch; faster runtimes on the "
            f"latency page)",
        ],
        ["can search a whole corpus", "yes", f"no: {n_docs} passes per query"],
        [
            "P@3 / nDCG@10 on the dev claims",
            f"{p3b:.3f} / {nb:.3f} (top {K} as retrieved)",
            f"{p3a:.3f} / {na:.3f} (the same {K}, reranked); blended with the bi-encoder "
            f"(blend={c.BLEND}): {p3m:.3f} / {nm:.3f}",
        ],
    ]
    path = args.out / "tables" / "bi-vs-cross.md"
    table = c.write_table(path, ["", "bi-encoder (first stage)", "cross-encoder (reranker)"], rows)
    machine = bench["machine"]
    note = (
        f"\nCosts: from the one latency run of [Fast local reranking](../guides/performance.md) "
        f"(`{bench['command']}`, {bench['inputs']['queries']} claims, {machine['cpu']}, "
        f"{machine['cores']} cores, load average {machine['load_before'][0]:.1f} before the "
        f"run), not timed again here.\n"
    )
    path.write_text(table + note)
    print(f"{data.source}\n{table}{note}")


if __name__ == "__main__":
    main()
