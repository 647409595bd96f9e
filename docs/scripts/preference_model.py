"""The reranker as a preference model: given a claim, does it prefer the relevant abstract?

Over every (relevant, non-relevant) pair among each claim's top-20 candidates, counts how often
each model orders the pair right, and checks the reranker's scores as preferences: the chance
that ``a`` beats ``b`` read as ``sigmoid(raw_a - raw_b)`` (Bradley-Terry, the form of a reward
model), against how often ``a`` really is the relevant one. Writes
``docs/assets/preference-model.png`` and ``docs/assets/tables/preference-model.md``.

Run: ``python docs/scripts/preference_model.py`` (bundled SciFact dev claims and bundled reranker).
"""

from __future__ import annotations

import argparse
import itertools
import math

import _common as c

K = 20
BINS = 10


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def main() -> None:
    args, data, hits, raw = c.scored_work(__doc__.splitlines()[0], K)

    from rerank_plugins import blend_scores

    bi_right = ce_right = mix_right = pairs = 0
    claims_with_pairs = 0
    prefs: list[tuple[float, int]] = []  # (P(a beats b) from the reranker, 1 if a is relevant)
    rel_scores: list[float] = []
    other_scores: list[float] = []
    for qid in data.dev:
        rel = c.relevant(data, qid)
        mixed = blend_scores(raw[qid], [sim for _, sim in hits[qid]], c.BLEND)
        cands = [(doc, sim, r) for (doc, sim), r in zip(hits[qid], raw[qid], strict=True)]
        mix = {doc: m for (doc, _), m in zip(hits[qid], mixed, strict=True)}
        good = [x for x in cands if x[0] in rel]
        bad = [x for x in cands if x[0] not in rel]
        rel_scores += [sigmoid(r) for _, _, r in good]
        other_scores += [sigmoid(r) for _, _, r in bad]
        claims_with_pairs += bool(good and bad)
        for g_doc, g_sim, g_raw in good:
            for b_doc, b_sim, b_raw in bad:
                pairs += 1
                bi_right += g_sim > b_sim
                ce_right += g_raw > b_raw
                mix_right += mix[g_doc] > mix[b_doc]
                prefs.append((sigmoid(g_raw - b_raw), 1))
                prefs.append((sigmoid(b_raw - g_raw), 0))

    rows = [
        ["bi-encoder (cosine similarity)", f"{bi_right / pairs:.3f}"],
        [f"cross-encoder alone ({args.reranker})", f"{ce_right / pairs:.3f}"],
        [f"blend={c.BLEND} of the two (z-scores)", f"{mix_right / pairs:.3f}"],
    ]
    table = c.write_table(
        args.out / "tables" / "preference-model.md",
        [f"model ({pairs} pairs, {claims_with_pairs} claims)", "pairs ordered right"],
        rows,
    )
    print(f"{data.source}\n{table}")

    # Reliability of the preferences: bin by predicted P(a beats b), compare with the truth.
    edges = [i / BINS for i in range(BINS + 1)]
    predicted, observed, counts = [], [], []
    for lo, hi in itertools.pairwise(edges):
        inside = [(p, y) for p, y in prefs if lo <= p < hi or (hi == 1.0 and p == 1.0)]
        if len(inside) >= 10:
            predicted.append(c.mean([p for p, _ in inside]))
            observed.append(c.mean([y for _, y in inside]))
            counts.append(len(inside))
    for p, o, n in zip(predicted, observed, counts, strict=True):
        print(f"  predicted {p:.2f}  observed {o:.2f}  ({n} ordered pairs)")
    plot(args, predicted, observed, rel_scores, other_scores)


def plot(
    args: argparse.Namespace,
    predicted: list[float],
    observed: list[float],
    rel_scores: list[float],
    other_scores: list[float],
) -> None:
    plt = c.pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    bins = [i / 20 for i in range(21)]
    c.relevance_histogram(left, rel_scores, other_scores, bins)
    c.label_axes(
        left,
        "reranker relevance_score (sigmoid of the logit)",
        "density",
        "Scores of the top-20 candidates",
    )
    right.plot([0, 1], [0, 1], ls=":", color="#9e9e9e", label="perfectly calibrated")
    right.plot(predicted, observed, "o-", color="#3949ab", label="reranker")
    c.label_axes(
        right,
        "sigmoid(score a - score b): predicted P(a preferred)",
        "observed: a is the relevant one",
        "Score differences read as preferences",
    )
    c.save_figure(fig, args.out / "preference-model.png")


if __name__ == "__main__":
    main()
