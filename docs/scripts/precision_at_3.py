"""Precision@3, the metric users feel: before and after reranking the bi-encoder's top 20.

Writes ``docs/assets/precision-at-3.png`` (how many of the three passages the LLM reads are
relevant, per claim, before and after) and ``docs/assets/tables/precision-at-3.md`` (every metric
with its lift, a paired randomization test and a 95% bootstrap interval; the ceiling a perfect
reranker of the same 20 would reach).

Run: ``python docs/scripts/precision_at_3.py`` (bundled SciFact dev claims and bundled reranker).
"""

from __future__ import annotations

import argparse

import _common as c

K = 20
METRICS = (
    ("P@1", "precision", 1),
    ("P@3", "precision", 3),
    ("P@5", "precision", 5),
    ("nDCG@10", "ndcg", 10),
    ("MRR@10", "mrr", 10),
)


def main() -> None:
    from rerank_plugins.evaluation.stats import compare

    args = c.parser(__doc__.splitlines()[0]).parse_args()
    c.setup_threads(args)
    data = c.load_data(args)
    hits = c.first_stage(data, K)
    raw = c.rerank_scores(args, data, hits, K)
    before = {q: [d for d, _ in hits[q]] for q in data.dev}
    after = {q: c.rerank_order(before[q], raw[q]) for q in data.dev}
    # A perfect reranker of the same candidates: relevant first, retrieval order otherwise.
    ideal = {
        q: sorted(before[q], key=lambda d, q=q: d not in c.relevant(data, q)) for q in data.dev
    }

    rows = []
    for label, name, k in METRICS:
        b = [c.metric(name, before[q], data, q, k) for q in data.dev]
        a = [c.metric(name, after[q], data, q, k) for q in data.dev]
        best = c.mean([c.metric(name, ideal[q], data, q, k) for q in data.dev])
        cmp = compare(b, a)
        rows.append(
            [
                label,
                f"{cmp.before:.3f}",
                f"{cmp.after:.3f}",
                f"{cmp.absolute_lift:+.3f}",
                f"[{cmp.ci[0]:+.3f}, {cmp.ci[1]:+.3f}]",
                f"{cmp.p_value:.4f}",
                f"{best:.3f}",
            ]
        )
    hit_b = [1.0 if c.metric("precision", before[q], data, q, 3) > 0 else 0.0 for q in data.dev]
    hit_a = [1.0 if c.metric("precision", after[q], data, q, 3) > 0 else 0.0 for q in data.dev]
    cmp = compare(hit_b, hit_a)
    rows.append(
        [
            "answer in top 3",
            f"{cmp.before:.3f}",
            f"{cmp.after:.3f}",
            f"{cmp.absolute_lift:+.3f}",
            f"[{cmp.ci[0]:+.3f}, {cmp.ci[1]:+.3f}]",
            f"{cmp.p_value:.4f}",
            f"{c.mean([1.0 if c.relevant(data, q) & set(before[q]) else 0.0 for q in data.dev]):.3f}",  # noqa: E501
        ]
    )
    header = [
        "metric",
        "bi-encoder top 20",
        "reranked",
        "lift",
        "95% CI of lift",
        "p",
        "perfect reranker of the 20",
    ]
    table = c.write_table(args.out / "tables" / "precision-at-3.md", header, rows)
    p3 = compare(
        [c.metric("precision", before[q], data, q, 3) for q in data.dev],
        [c.metric("precision", after[q], data, q, 3) for q in data.dev],
    )
    print(f"{data.source}; reranker {args.reranker}\n{table}")
    print(
        f"P@3 per claim: improved {p3.improved:.0%}, unchanged {p3.unchanged:.0%}, "
        f"hurt {p3.hurt:.0%}"
    )
    relevant_counts = [len(c.relevant(data, q)) for q in data.dev]
    print(
        f"relevant abstracts per claim: mean {c.mean(relevant_counts):.2f}, "
        f"one only: {sum(1 for n in relevant_counts if n == 1) / len(relevant_counts):.0%}"
    )
    plot(args, data, before, after, p3.improved, p3.unchanged, p3.hurt)


def plot(
    args: argparse.Namespace,
    data: c.Data,
    before: dict[str, list[str]],
    after: dict[str, list[str]],
    improved: float,
    unchanged: float,
    hurt: float,
) -> None:
    plt = c.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    n = len(data.dev)

    def shares(run: dict[str, list[str]]) -> list[float]:
        counts = [round(3 * c.metric("precision", run[q], data, q, 3)) for q in data.dev]
        return [sum(1 for x in counts if x == k) / n for k in range(4)]

    xs = list(range(4))
    left.bar([x - 0.2 for x in xs], shares(before), 0.4, color="#9fa8da", label="bi-encoder")
    left.bar([x + 0.2 for x in xs], shares(after), 0.4, color="#3949ab", label="reranked")
    left.set_xticks(xs, ["0", "1", "2", "3"])
    left.set_xlabel("relevant abstracts among the 3 the LLM reads")
    left.set_ylabel("share of claims")
    left.set_title("What the user feels: is the answer in the top 3?")
    left.legend(frameon=False)
    right.barh(
        ["hurt", "unchanged", "improved"],
        [hurt, unchanged, improved],
        color=["#e53935", "#bdbdbd", "#43a047"],
    )
    right.set_xlabel("share of claims")
    right.set_title("P@3 per claim after reranking")
    right.set_xlim(0, 1)
    fig.tight_layout()
    out = args.out / "precision-at-3.png"
    fig.savefig(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
