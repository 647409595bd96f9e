"""Precision@3, the metric users feel: before and after reranking the bi-encoder's top 20.

Two rerankings of the same candidates: the bundled cross-encoder alone, and blended with the
first-stage score (``blend=0.5``, the core option the model card recommends). Writes
``docs/assets/precision-at-3.png`` (how many of the three passages the LLM reads are relevant,
per claim) and ``docs/assets/tables/precision-at-3.md`` (every metric with its lift, a paired
randomization test and a 95% bootstrap interval; the ceiling a perfect reranker of the same 20
would reach).

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

    args, data, hits, raw = c.scored_work(__doc__.splitlines()[0], K)
    before = {q: [d for d, _ in hits[q]] for q in data.dev}
    sims = {q: [s for _, s in hits[q]] for q in data.dev}
    alone = {q: c.rerank_order(before[q], raw[q]) for q in data.dev}
    blended = {q: c.rerank_order(before[q], raw[q], sims[q], c.BLEND) for q in data.dev}
    # A perfect reranker of the same candidates: relevant first, retrieval order otherwise.
    ideal = {
        q: sorted(before[q], key=lambda d, q=q: d not in c.relevant(data, q)) for q in data.dev
    }

    def per_query(name: str, run: dict[str, list[str]], k: int) -> list[float]:
        if name == "hit":  # is any of the top k relevant?
            return [float(c.metric("precision", run[q], data, q, k) > 0) for q in data.dev]
        return [c.metric(name, run[q], data, q, k) for q in data.dev]

    rows = []
    for label, name, k in (*METRICS, ("answer in top 3", "hit", 3)):
        b = per_query(name, before, k)
        a = compare(b, per_query(name, alone, k))
        m = compare(b, per_query(name, blended, k))
        best = c.mean(per_query(name, ideal, k))
        rows.append(
            [
                label,
                f"{a.before:.3f}",
                # Bold: the default, what the demo and the adapters rank by (alone).
                f"**{a.after:.3f}** ({a.absolute_lift:+.3f}, p={a.p_value:.3f})",
                f"{m.after:.3f} ({m.absolute_lift:+.3f}, p={m.p_value:.3f})",
                f"[{m.ci[0]:+.3f}, {m.ci[1]:+.3f}]",
                f"{best:.3f}",
            ]
        )
    header = [
        "metric",
        "bi-encoder top 20",
        "reranked, cross-encoder alone, the default (lift, p)",
        f"reranked, blend={c.BLEND} (lift, p)",
        "95% CI of the blend's lift",
        "perfect reranker of the 20",
    ]
    path = args.out / "tables" / "precision-at-3.md"
    table = c.write_table(path, header, rows)
    note = (
        f"\n{len(data.dev)} claims; reranker `{args.reranker}`; p: paired randomization test, "
        f"two-sided; CI: bootstrap.\n"
    )
    path.write_text(table + note)
    print(f"{data.source}\n{table}{note}")
    shares = {}
    for label, run in (("alone", alone), ("blend", blended)):
        cmp = compare(per_query("precision", before, 3), per_query("precision", run, 3))
        shares[label] = (cmp.improved, cmp.unchanged, cmp.hurt)
        print(
            f"P@3 per claim, {label}: improved {cmp.improved:.0%}, unchanged "
            f"{cmp.unchanged:.0%}, hurt {cmp.hurt:.0%}"
        )
    relevant_counts = [len(c.relevant(data, q)) for q in data.dev]
    print(
        f"relevant abstracts per claim: mean {c.mean(relevant_counts):.2f}, "
        f"one only: {sum(1 for n in relevant_counts if n == 1) / len(relevant_counts):.0%}"
    )
    plot(
        args,
        data,
        {"bi-encoder": before, "cross-encoder alone": alone, f"blend={c.BLEND}": blended},
        shares,
    )


def plot(
    args: argparse.Namespace,
    data: c.Data,
    runs: dict[str, dict[str, list[str]]],
    shares: dict[str, tuple[float, float, float]],
) -> None:
    plt = c.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    n = len(data.dev)
    colors = ["#9fa8da", "#ef9a9a", "#3949ab"]
    xs = list(range(4))
    width = 0.8 / len(runs)
    for j, (label, run) in enumerate(runs.items()):
        counts = [round(3 * c.metric("precision", run[q], data, q, 3)) for q in data.dev]
        values = [sum(1 for x in counts if x == k) / n for k in xs]
        left.bar(
            [x - 0.4 + width * (j + 0.5) for x in xs], values, width, color=colors[j], label=label
        )
    left.set_xticks(xs, ["0", "1", "2", "3"])
    c.label_axes(
        left,
        "relevant abstracts among the 3 the LLM reads",
        "share of claims",
        "What the user feels: is the answer in the top 3?",
    )
    labels = list(shares)
    improved = [shares[k][0] for k in labels]
    unchanged = [shares[k][1] for k in labels]
    hurt = [shares[k][2] for k in labels]
    names = ["cross-encoder alone", f"blend={c.BLEND}"]
    right.barh(names, improved, color="#43a047", label="improved")
    right.barh(names, unchanged, left=improved, color="#bdbdbd", label="unchanged")
    right.barh(
        names,
        hurt,
        left=[a + b for a, b in zip(improved, unchanged, strict=True)],
        color="#e53935",
        label="hurt",
    )
    right.set_xlabel("share of claims")
    right.set_title("P@3 per claim after reranking")
    right.set_xlim(0, 1)
    right.legend(frameon=False, fontsize=7, loc="lower right")
    c.save_figure(fig, args.out / "precision-at-3.png")


if __name__ == "__main__":
    main()
