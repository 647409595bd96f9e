"""Why vector search alone mis-orders the top-K: where the answer sits in the bi-encoder's top 20.

Writes ``docs/assets/why-rerank.png`` (where the first relevant abstract lands; cosine similarity of
relevant and non-relevant candidates), ``docs/assets/tables/why-rerank.md`` and
``docs/assets/tables/why-rerank-example.md`` (one real claim whose answer the vector search ranked
below a look-alike).

Run: ``python docs/scripts/why_rerank.py`` (bundled SciFact dev claims; ``--data`` for another
BEIR folder).
"""

from __future__ import annotations

import argparse
from typing import Any

import _common as c

K = 20


def main() -> None:
    args = c.parser(__doc__.splitlines()[0]).parse_args()
    data = c.load_data(args)
    hits = c.first_stage(data, K)

    first: list[int | None] = []  # 1-based rank of the first relevant abstract, None: not in top K
    rel_sims: list[float] = []
    other_sims: list[float] = []
    example = None
    for qid in data.dev:
        rel = c.relevant(data, qid)
        ranks = [i + 1 for i, (doc, _) in enumerate(hits[qid]) if doc in rel]
        first.append(ranks[0] if ranks else None)
        for doc, sim in hits[qid]:
            (rel_sims if doc in rel else other_sims).append(sim)
        if example is None and ranks and 4 <= ranks[0] <= 10:
            example = (qid, ranks[0])

    n = len(first)
    top1 = sum(1 for r in first if r == 1)
    top3 = sum(1 for r in first if r is not None and r <= 3)
    below = sum(1 for r in first if r is not None and r > 3)
    missed = sum(1 for r in first if r is None)
    rows = [
        ["at rank 1", top1, f"{top1 / n:.0%}"],
        ["in the top 3 (what the LLM reads)", top3, f"{top3 / n:.0%}"],
        [f"retrieved (top {K}) but below rank 3", below, f"{below / n:.0%}"],
        [f"not in the top {K} at all", missed, f"{missed / n:.0%}"],
    ]
    table = c.write_table(
        args.out / "tables" / "why-rerank.md",
        ["where the first relevant abstract is", "claims", "share"],
        rows,
    )
    print(f"{data.source}; first stage: all-MiniLM-L6-v2, top {K}\n{table}")
    print(
        f"cosine similarity, relevant: mean {c.mean(rel_sims):.3f}; "
        f"non-relevant: mean {c.mean(other_sims):.3f}"
    )

    if example is not None:
        write_example(args, data, hits, *example)
    plot(args, first, rel_sims, other_sims, n)


def write_example(
    args: argparse.Namespace, data: c.Data, hits: dict[str, Any], qid: str, rank: int
) -> None:
    rel = c.relevant(data, qid)
    lines = [f"**Claim:** {data.dataset.queries[qid]}", ""]
    lines += ["| rank | cosine | relevant | abstract title |", "| --- | --- | --- | --- |"]
    for i, (doc, sim) in enumerate(hits[qid][: max(rank, 3)]):
        title = data.dataset.corpus[doc][0] or data.dataset.corpus[doc][1][:90]
        lines.append(f"| {i + 1} | {sim:.3f} | {'✓' if doc in rel else ''} | {title} |")
    path = args.out / "tables" / "why-rerank-example.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def plot(
    args: argparse.Namespace,
    first: list[int | None],
    rel_sims: list[float],
    other_sims: list[float],
    n: int,
) -> None:
    plt = c.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    labels = [str(r) for r in range(1, K + 1)] + [f">{K}"]
    counts = [sum(1 for r in first if r == k) for k in range(1, K + 1)] + [
        sum(1 for r in first if r is None)
    ]
    colors = ["#3949ab" if i < 3 else "#9fa8da" for i in range(K)] + ["#bdbdbd"]
    left.bar(labels, [x / n for x in counts], color=colors)
    left.set_xlabel("rank of the first relevant abstract (bi-encoder)")
    left.set_ylabel("share of claims")
    left.set_title("The answer is often retrieved, but not on top")
    left.tick_params(axis="x", labelsize=7)
    lo, hi = min(rel_sims + other_sims), max(rel_sims + other_sims)
    bins = [lo + (hi - lo) * i / 40 for i in range(41)]
    c.relevance_histogram(right, rel_sims, other_sims, bins)
    c.label_axes(
        right,
        "cosine similarity to the claim (top-20 candidates)",
        "density",
        "Similar is not the same as answering",
    )
    c.save_figure(fig, args.out / "why-rerank.png")


if __name__ == "__main__":
    main()
