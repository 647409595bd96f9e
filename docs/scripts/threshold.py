"""Choosing a threshold: the bundled reranker's scores before and after its calibration.

On the development claims (never used to fit the calibration), each claim's first-stage top 20
is scored by the bundled reranker; the raw logits are read on the model's own scale (their
sigmoid) and through the calibration the reranker ships with. Writes
``docs/assets/threshold-reliability.png`` (the reliability diagram of both),
``docs/assets/tables/threshold-metrics.md`` (ECE, Brier score, log-loss),
``docs/assets/tables/threshold-table.md`` (what each ``min_score`` keeps, both ways) and
``docs/assets/tables/threshold-carry-over.md`` (the same calibration on the top 10, 5 and 3 of
the same first stage, and with ``--bm25`` on BM25's top 20: where it carries over and where it
does not).

Run: ``python docs/scripts/threshold.py`` (bundled SciFact dev claims and bundled reranker; the
reranker's scores are cached, shared with the other scripts).
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import _common as c

from rerank_plugins.evaluation.calibration import (
    calibration_summary,
    draw_reliability,
    threshold_table,
)

K = 20


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _pairs(
    data: c.Data, candidates: dict[str, list[tuple[str, float]]], raw: dict[str, list[float]]
) -> tuple[list[float], list[bool]]:
    scores: list[float] = []
    labels: list[bool] = []
    for qid in data.dev:
        wanted = c.relevant(data, qid)
        for (doc, _), value in zip(candidates[qid], raw[qid], strict=True):
            scores.append(value)
            labels.append(doc in wanted)
    return scores, labels


def _calibration(args: argparse.Namespace) -> Any:
    from rerank_plugins import Calibration, CrossEncoderScorer

    if args.calibration:
        return Calibration.load(args.calibration)
    cal = CrossEncoderScorer(args.reranker).calibration
    if cal is None:
        raise SystemExit(
            f"{args.reranker} carries no calibration; pass --calibration FILE (written by "
            f"rerank-plugins calibrate)."
        )
    return cal


def _bm25(data: c.Data, k: int) -> dict[str, list[tuple[str, float]]]:
    from rerank_plugins.evaluation.retrieval import retrieve

    hits = retrieve(data.dataset, data.dev, kind="bm25", k=k)
    return {qid: [(h.doc_id, h.score) for h in hits[qid]] for qid in data.dev}


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--calibration", help="a calibration file (default: the reranker's own)")
    p.add_argument(
        "--bm25",
        action="store_true",
        help="also BM25's top 20 in the carry-over table (scores every BM25 candidate the dense "
        "first stage did not find: minutes more)",
    )
    args = p.parse_args()
    c.setup_threads(args)
    data = c.load_data(args)
    cal = _calibration(args)
    dense = c.first_stage(data, K)
    logits, labels = _pairs(data, dense, c.rerank_scores(args, data, dense, K))
    own = [_sigmoid(x) for x in logits]
    calibrated = cal.apply(logits)
    name = cal.source.rsplit("/", 1)[-1] if cal.source else "the calibration"

    args.out.mkdir(parents=True, exist_ok=True)
    draw_reliability(
        {"own scale (sigmoid of the logit)": (own, labels), "calibrated": (calibrated, labels)},
        args.out / "threshold-reliability.png",
        title=f"{args.reranker} on {data.source}, dense top-{K}",
    )
    before, after = calibration_summary(own, labels), calibration_summary(calibrated, labels)
    c.write_table(
        args.out / "tables" / "threshold-metrics.md",
        ["scores", "ECE", "Brier", "log-loss"],
        [
            ["own scale (sigmoid of the logit)"]
            + [f"{before[k]:.3f}" for k in ("ece", "brier", "log_loss")],
            [f"calibrated ({name}: {cal.method})"]
            + [f"{after[k]:.3f}" for k in ("ece", "brier", "log_loss")],
        ],
    )
    rows = []
    for a, b in zip(threshold_table(own, labels), threshold_table(calibrated, labels), strict=True):
        rows.append(
            [
                f"{a.threshold:g}",
                f"{a.share_kept:.1%}",
                _fmt(a.precision),
                _fmt(a.recall),
                f"{b.share_kept:.1%}",
                _fmt(b.precision),
                _fmt(b.recall),
            ]
        )
    c.write_table(
        args.out / "tables" / "threshold-table.md",
        [
            "min_score",
            "own scale: kept",
            "precision",
            "recall",
            "calibrated: kept",
            "precision",
            "recall",
        ],
        rows,
    )
    print(
        f"{len(labels)} pairs ({sum(labels)} relevant) of {len(data.dev)} claims: ECE "
        f"{before['ece']:.3f} -> {after['ece']:.3f}"
    )
    _carry_over(args, data, cal, dense)


def _carry_over(
    args: argparse.Namespace, data: c.Data, cal: Any, dense: dict[str, list[tuple[str, float]]]
) -> None:
    """The same calibration on candidates from other first stages and depths."""
    rows = []
    settings = [(f"dense top-{K} (as fit)", dense, K), ("dense top-10", dense, 10)]
    settings += [("dense top-5", dense, 5), ("dense top-3", dense, 3)]
    if args.bm25:
        settings.append((f"BM25 top-{K}", _bm25(data, K), K))
    for label, candidates, depth in settings:
        cut = {qid: hits[:depth] for qid, hits in candidates.items()}
        logits, labels = _pairs(data, cut, c.rerank_scores(args, data, cut, depth))
        probs = cal.apply(logits)
        summary = calibration_summary(probs, labels)
        half = next(r for r in threshold_table(probs, labels) if r.threshold == 0.5)
        rows.append(
            [
                label,
                str(len(labels)),
                f"{sum(labels) / len(labels):.3f}",
                f"{sum(probs) / len(probs):.3f}",
                f"{summary['ece']:.3f}",
                _fmt(half.precision),
                _fmt(half.recall),
            ]
        )
    c.write_table(
        args.out / "tables" / "threshold-carry-over.md",
        [
            "candidates",
            "pairs",
            "share relevant",
            "mean calibrated score",
            "ECE",
            "precision at 0.5",
            "recall at 0.5",
        ],
        rows,
    )


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    main()
