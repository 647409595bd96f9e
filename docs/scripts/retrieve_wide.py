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

KS = (3, 5, 10, 15, 20)
WIDER = (30, 50)  # first-stage recall only: how much a wider K could still find


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--timed-queries", type=int, default=8, help="claims timed per K")
    args = p.parse_args()
    c.setup_threads(args)
    data = c.load_data(args)
    depth = max(KS)
    wide = {q: [d for d, _ in h] for q, h in c.first_stage(data, max(WIDER)).items()}
    hits = c.first_stage(data, depth)
    raw = c.rerank_scores(args, data, hits, depth)

    docs = {qid: [d for d, _ in hits[qid]] for qid in data.dev}
    sims = {qid: [s for _, s in hits[qid]] for qid in data.dev}
    p3_before = c.mean([c.metric("precision", docs[q], data, q, 3) for q in data.dev])
    ndcg_before = c.mean([c.metric("ndcg", docs[q], data, q, 10) for q in data.dev])
    latencies = time_reranking(args, data, docs)
    curves: dict[str, list[float]] = {
        key: []
        for key in (
            "p3_alone",
            "p3_blend",
            "ndcg_alone",
            "ndcg_blend",
            "recall",
            "p50_ms",
            "p95_ms",
        )
    }
    rows = []
    for k in KS:
        values = {}
        for mode, blend in (("alone", None), ("blend", c.BLEND)):
            after = {
                q: c.rerank_order(docs[q][:k], raw[q][:k], sims[q][:k], blend) + docs[q][k:]
                for q in data.dev
            }
            values[f"p3_{mode}"] = c.mean(
                [c.metric("precision", after[q], data, q, 3) for q in data.dev]
            )
            values[f"ndcg_{mode}"] = c.mean(
                [c.metric("ndcg", after[q], data, q, 10) for q in data.dev]
            )
        values["recall"] = c.mean([c.metric("recall", docs[q], data, q, k) for q in data.dev])
        values["p50_ms"] = c.percentile(latencies[k], 0.5)
        values["p95_ms"] = c.percentile(latencies[k], 0.95)
        for key in curves:
            curves[key].append(values[key])
        rows.append(
            [
                k,
                f"{values['recall']:.3f}",
                f"{values['p3_alone']:.3f} ({values['p3_alone'] - p3_before:+.3f})",
                f"{values['p3_blend']:.3f} ({values['p3_blend'] - p3_before:+.3f})",
                f"{values['ndcg_alone']:.3f} ({values['ndcg_alone'] - ndcg_before:+.3f})",
                f"{values['ndcg_blend']:.3f} ({values['ndcg_blend'] - ndcg_before:+.3f})",
                f"{values['p50_ms']:.0f}",
                f"{values['p95_ms']:.0f}",
            ]
        )
    header = [
        "K reranked",
        "Recall@K (ceiling)",
        "P@3 alone (lift)",
        f"P@3 blend={c.BLEND} (lift)",
        "nDCG@10 alone (lift)",
        f"nDCG@10 blend={c.BLEND} (lift)",
        "rerank p50 (ms)",
        "rerank p95 (ms)",
    ]
    table = c.write_table(args.out / "tables" / "retrieve-wide.md", header, rows)
    wider = {w: c.mean([c.metric("recall", wide[q], data, q, w) for q in data.dev]) for w in WIDER}
    note = (
        f"\n{len(data.dev)} claims; latency over the first {args.timed_queries} of them "
        f"(the faster of {c.REPEATS} runs each). "
        f"{c.machine_note()} Recall of the first stage further down: "
        + ", ".join(f"Recall@{w} {r:.3f}" for w, r in wider.items())
        + ".\n"
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
    """Wall-clock ms of ``Reranker.rerank`` over each K, per timed claim (model warm).

    Every K is timed for each claim in turn (so a busy moment of the machine does not fall on
    one K), twice, and the faster of the two runs is kept: on a shared machine the minimum is
    the best estimate of what the work itself costs.
    """
    from rerank_plugins import Reranker

    reranker = Reranker(c.scorer(args))
    timed = data.dev[: args.timed_queries]
    first = timed[0]
    reranker.rerank(data.dataset.queries[first], texts(data, docs[first][:8]))  # warm-up
    best: dict[tuple[int, str], float] = {}
    for _ in range(c.REPEATS):
        for qid in timed:
            for k in KS:
                batch = texts(data, docs[qid][:k])
                started = time.perf_counter()
                reranker.rerank(data.dataset.queries[qid], batch)
                ms = (time.perf_counter() - started) * 1000
                best[k, qid] = min(ms, best.get((k, qid), ms))
    out = {k: [best[k, qid] for qid in timed] for k in KS}
    for k in KS:
        print(f"  K={k}: p50 {c.percentile(out[k], 0.5):.0f} ms over {len(timed)} claims")
    return out


def texts(data: c.Data, ids: list[str]) -> list[str]:
    return [data.dataset.document_text(d) for d in ids]


def plot(
    args: argparse.Namespace, curves: dict[str, list[float]], p3_before: float, ndcg_before: float
) -> None:
    plt = c.pyplot()
    fig, (left, mid, right) = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, metric, before, title in (
        (left, "p3", p3_before, "P@3"),
        (mid, "ndcg", ndcg_before, "nDCG@10"),
    ):
        ax.plot(KS, curves[f"{metric}_blend"], "o-", color="#3949ab", label=f"blend={c.BLEND}")
        ax.plot(KS, curves[f"{metric}_alone"], "s--", color="#e57373", label="cross-encoder alone")
        ax.axhline(before, color="#616161", ls=":", label="bi-encoder alone")
        ax.set_xlabel("K: candidates retrieved and reranked")
        ax.set_title(f"{title} after reranking the top K")
        ax.legend(frameon=False, fontsize=7)
    right.plot(KS, curves["p50_ms"], "o-", color="#e53935", label="p50")
    right.plot(KS, curves["p95_ms"], "o--", color="#ef9a9a", label="p95")
    right2 = right.twinx()
    right2.plot(KS, curves["recall"], "^:", color="#9e9e9e", label="Recall@K")
    right2.set_ylabel("Recall@K (the ceiling)", color="#757575")
    right2.set_ylim(0, 1)
    right.set_xlabel("K: candidates reranked")
    right.set_ylabel("rerank latency per query (ms)")
    right.set_title("Cost grows with K; recall flattens")
    right.set_ylim(bottom=0)
    right.legend(frameon=False, loc="upper left")
    c.save_figure(fig, args.out / "retrieve-wide.png")


if __name__ == "__main__":
    main()
