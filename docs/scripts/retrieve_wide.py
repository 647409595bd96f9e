"""Retrieve wide, rerank narrow: how precision and latency move with K, the candidates reranked.

For each K, the reranker reorders the bi-encoder's top K and the metrics are taken on the result;
the latency is measured per query through the package's own ``Reranker`` on this machine.
Writes ``docs/assets/retrieve-wide.png`` and ``docs/assets/tables/retrieve-wide.md``.

Run: ``python docs/scripts/retrieve_wide.py`` (bundled SciFact dev claims and the bundled
reranker; ``--timed-queries`` sets how many claims are timed per K).
"""

from __future__ import annotations

import argparse
import time

import _common as c

KS = (3, 5, 10, 20, 30)


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--timed-queries", type=int, default=8, help="claims timed per K")
    args = p.parse_args()
    c.setup_threads(args)
    data = c.load_data(args)
    depth = max(KS)
    hits = c.first_stage(data, depth)
    raw = c.rerank_scores(args, data, hits, depth)

    rows = []
    curves: dict[str, list[float]] = {
        "p3_before": [],
        "p3_after": [],
        "ndcg_after": [],
        "recall": [],
        "p50_ms": [],
        "p95_ms": [],
    }
    docs = {qid: [d for d, _ in hits[qid]] for qid in data.dev}
    p3_before = c.mean([c.metric("precision", docs[q], data, q, 3) for q in data.dev])
    ndcg_before = c.mean([c.metric("ndcg", docs[q], data, q, 10) for q in data.dev])
    latencies = time_reranking(args, data, docs)
    for k in KS:
        after = {q: c.rerank_order(docs[q][:k], raw[q][:k]) + docs[q][k:] for q in data.dev}
        p3 = c.mean([c.metric("precision", after[q], data, q, 3) for q in data.dev])
        ndcg = c.mean([c.metric("ndcg", after[q], data, q, 10) for q in data.dev])
        recall = c.mean([c.metric("recall", docs[q], data, q, k) for q in data.dev])
        p50, p95 = c.percentile(latencies[k], 0.5), c.percentile(latencies[k], 0.95)
        for key, value in zip(curves, (p3_before, p3, ndcg, recall, p50, p95), strict=True):
            curves[key].append(value)
        rows.append(
            [
                k,
                f"{recall:.3f}",
                f"{p3:.3f}",
                f"{p3 - p3_before:+.3f}",
                f"{ndcg:.3f}",
                f"{ndcg - ndcg_before:+.3f}",
                f"{p50:.0f}",
                f"{p95:.0f}",
            ]
        )
    header = [
        "K reranked",
        "Recall@K (ceiling)",
        "P@3",
        "P@3 lift",
        "nDCG@10",
        "nDCG@10 lift",
        "rerank p50 (ms)",
        "rerank p95 (ms)",
    ]
    table = c.write_table(args.out / "tables" / "retrieve-wide.md", header, rows)
    note = (
        f"\n{len(data.dev)} claims; latency over the first {args.timed_queries} of them. "
        f"{c.machine_note()}\n"
    )
    (args.out / "tables" / "retrieve-wide.md").write_text(table + note)
    print(
        f"{data.source}; reranker {args.reranker}; bi-encoder alone: P@3 {p3_before:.3f}, "
        f"nDCG@10 {ndcg_before:.3f}\n{table}"
    )
    plot(args, curves, p3_before, ndcg_before)


def time_reranking(
    args: argparse.Namespace, data: c.Data, docs: dict[str, list[str]]
) -> dict[int, list[float]]:
    """Wall-clock ms of ``Reranker.rerank`` over each K, on the first claims (model warm)."""
    from rerank_plugins import Reranker

    reranker = Reranker(c.scorer(args))
    timed = data.dev[: args.timed_queries]
    first = timed[0]
    reranker.rerank(data.dataset.queries[first], texts(data, docs[first][:8]))  # warm-up
    out: dict[int, list[float]] = {k: [] for k in KS}
    for k in KS:
        for qid in timed:
            batch = texts(data, docs[qid][:k])
            started = time.perf_counter()
            reranker.rerank(data.dataset.queries[qid], batch)
            out[k].append((time.perf_counter() - started) * 1000)
        print(f"  K={k}: p50 {c.percentile(out[k], 0.5):.0f} ms over {len(timed)} claims")
    return out


def texts(data: c.Data, ids: list[str]) -> list[str]:
    return [data.dataset.document_text(d) for d in ids]


def plot(
    args: argparse.Namespace, curves: dict[str, list[float]], p3_before: float, ndcg_before: float
) -> None:
    plt = c.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot(KS, curves["p3_after"], "o-", color="#3949ab", label="P@3 after reranking top K")
    left.axhline(p3_before, color="#3949ab", ls=":", label="P@3, bi-encoder alone")
    left.plot(KS, curves["ndcg_after"], "s-", color="#00897b", label="nDCG@10 after reranking")
    left.axhline(ndcg_before, color="#00897b", ls=":", label="nDCG@10, bi-encoder alone")
    left.plot(KS, curves["recall"], "^--", color="#9e9e9e", label="Recall@K (what can be found)")
    left.set_xlabel("K: candidates retrieved and reranked")
    left.set_title("Quality rises with K, then flattens")
    left.legend(frameon=False, fontsize=7)
    right.plot(KS, curves["p50_ms"], "o-", color="#e53935", label="p50")
    right.plot(KS, curves["p95_ms"], "o--", color="#ef9a9a", label="p95")
    right.set_xlabel("K: candidates reranked")
    right.set_ylabel("rerank latency per query (ms)")
    right.set_title("Latency grows linearly with K")
    right.set_ylim(bottom=0)
    right.legend(frameon=False)
    fig.tight_layout()
    out = args.out / "retrieve-wide.png"
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
