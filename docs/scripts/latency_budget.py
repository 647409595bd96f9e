"""The latency budget before the first token: what ``budget_ms`` buys, measured.

Reranks each timed claim's top 20 through ``Reranker(scorer, budget_ms=...)`` for a
range of budgets and records the wall-clock time of the call, how many candidates were scored in
time, and P@3 of the result (unscored candidates follow in retrieval order, as the contract
says). The first stage's time (embed the query, search the corpus), shown beside it so that the
page can show the whole time before the LLM is called, is the one latency run's
(``benchmarks/results/bench_local.json``, on the "Fast local reranking" page), not timed here.
Writes ``docs/assets/latency-budget.png`` and ``docs/assets/tables/latency-budget.md``.

Run: ``python docs/scripts/latency_budget.py`` (bundled SciFact dev claims and bundled reranker).
"""

from __future__ import annotations

import argparse
import json

import _common as c

K = 20
SHARES = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5)
"""Budgets, as shares of the full rerank's median time on this machine (measured first)."""


def main() -> None:
    from rerank_plugins import Reranker

    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--timed-queries", type=int, default=8, help="claims timed per budget")
    p.add_argument("--batch-size", type=int, default=4, help="pairs per unit of the budget loop")
    args = p.parse_args()
    c.setup_threads(args)
    data = c.load_data(args)
    hits = c.first_stage(data, K)
    timed = data.dev[: args.timed_queries]

    bench = json.loads((c.ROOT / "benchmarks" / "results" / "bench_local.json").read_text())
    fs = bench["first_stage"]["first_stage_p50_ms"]

    from rerank_plugins import CrossEncoderScorer

    scorer = CrossEncoderScorer(
        args.reranker,
        max_length=args.max_length,
        device="cpu",
        batch_size=args.batch_size,
        score_cache_size=0,  # every budget reranks the same pairs: time them, not the cache
        runtime="torch",  # the reference, as the other figures
    )
    scorer.prepare()
    warm = timed[0]
    Reranker(scorer).rerank(data.dataset.queries[warm], texts(data, hits, warm)[:8])

    rows, series = [], []
    budgets: list[float | None] = [None]
    for budget in budgets:
        reranker = Reranker(scorer, budget_ms=budget)
        ms, scored, p3, ran_out = [], [], [], 0
        for qid in timed:
            result = reranker.rerank(
                data.dataset.queries[qid],
                texts(data, hits, qid),
                retrieval_scores=[s for _, s in hits[qid]],
            )
            ids = [hits[qid][i.index][0] for i in result.items]
            ms.append(result.stats.latency_ms)
            scored.append(result.stats.scored / K)
            p3.append(c.metric("precision", ids, data, qid, 3))
            # Cut short: the core stopped starting units, or the scorer skipped a pass that would
            # have overrun the time left; either way the call returned with candidates unscored.
            ran_out += result.stats.scored < result.stats.candidates_in
        if budget is None:  # the full rerank sets the scale of the budgets tried next
            full = c.percentile(ms, 0.5)
            budgets += [round(full * share, -1) or 10.0 for share in SHARES]
        label = "none" if budget is None else f"{budget:.0f} ({budget / full:.0%})"
        rows.append(
            [
                label,
                f"{c.percentile(ms, 0.5):.0f}",
                f"{c.percentile(ms, 0.95):.0f}",
                f"{max(ms):.0f}",
                f"{c.mean(scored):.0%}",
                f"{ran_out / len(timed):.0%}",
                f"{c.mean(p3):.3f}",
            ]
        )
        series.append(
            (budget, c.percentile(ms, 0.5), c.percentile(ms, 0.95), c.mean(scored), c.mean(p3))
        )
        print(f"  budget {label}: p50 {c.percentile(ms, 0.5):.0f} ms, scored {c.mean(scored):.0%}")
    p3_first = c.mean([c.metric("precision", [d for d, _ in hits[q]], data, q, 3) for q in timed])
    order = sorted(range(len(rows)), key=lambda i: budgets[i] or float("inf"))
    rows = [rows[i] for i in order]
    series = [series[i] for i in order]
    header = [
        "budget_ms (share of the full rerank)",
        "call p50 (ms)",
        "call p95 (ms)",
        "call max (ms)",
        "candidates scored",
        "calls cut short",
        "P@3",
    ]
    table = c.write_table(args.out / "tables" / "latency-budget.md", header, rows)
    extra = (
        f"\nFirst stage (embed the claim, search {len(data.dataset.corpus)} abstracts): "
        f"p50 {fs:.0f} ms, from the latency page's run ({bench['machine']['cpu']}). "
        f"P@3 of the first stage alone on these claims: {p3_first:.3f}. "
        f"{len(timed)} claims, batches of {args.batch_size} pairs. {c.machine_note()}\n"
    )
    (args.out / "tables" / "latency-budget.md").write_text(table + extra)
    print(f"{data.source}; reranker {args.reranker}\n{table}{extra}")
    plot(args, series, p3_first, fs)


def texts(data: c.Data, hits: dict[str, list[tuple[str, float]]], qid: str) -> list[str]:
    return [data.dataset.document_text(d) for d, _ in hits[qid]]


def plot(
    args: argparse.Namespace,
    series: list[tuple[float | None, float, float, float, float]],
    p3_first: float,
    first_stage_ms: float,
) -> None:
    plt = c.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    labels = ["none" if b is None else f"{b:.0f}" for b, *_ in series]
    xs = list(range(len(series)))
    left.bar(xs, [first_stage_ms] * len(xs), color="#9fa8da", label="first stage (p50)")
    left.bar(
        xs,
        [p50 for _, p50, *_ in series],
        bottom=[first_stage_ms] * len(xs),
        color="#3949ab",
        label="rerank call (p50)",
    )
    left.scatter(
        xs,
        [first_stage_ms + p95 for _, _, p95, *_ in series],
        marker="_",
        s=200,
        color="#e53935",
        label="rerank call (p95)",
        zorder=3,
    )
    budgets = [b for b, *_ in series]
    left.scatter(
        [x for x, b in zip(xs, budgets, strict=True) if b is not None],
        [first_stage_ms + b for b in budgets if b is not None],
        marker="x",
        color="#000000",
        label="first stage + budget",
        zorder=3,
    )
    left.set_xticks(xs, labels)
    c.label_axes(
        left,
        "budget_ms",
        "time before the LLM is called (ms)",
        "The budget caps the wait",
        fontsize=7,
    )
    right.plot(xs, [p3 for *_, p3 in series], "o-", color="#3949ab", label="P@3")
    right.axhline(p3_first, ls=":", color="#9e9e9e", label="P@3 without reranking")
    right2 = right.twinx()
    right2.bar(xs, [s for *_, s, _ in series], alpha=0.15, color="#3949ab")
    right2.set_ylabel("share of candidates scored")
    right2.set_ylim(0, 1.05)
    right.set_xticks(xs, labels)
    right.set_xlabel("budget_ms")
    right.set_title("What a tight budget costs in precision")
    right.legend(frameon=False, loc="lower right")
    c.save_figure(fig, args.out / "latency-budget.png")


if __name__ == "__main__":
    main()
