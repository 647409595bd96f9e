"""Choosing a threshold: the bundled reranker's scores before and after its calibration.

Reads ``benchmarks/results/bundled_calibration.json``, what ``experiments/calibrate_bundled.py``
measured once on the development claims (never used to fit the calibration): each claim's dense
top-20 scored by the bundled reranker, read on the model's own scale (the sigmoid of its logit)
and through the calibration it ships with. Writes ``docs/assets/threshold-reliability.png`` (the
reliability diagram of both), ``docs/assets/tables/threshold-metrics.md`` (ECE, Brier score,
log-loss), ``docs/assets/tables/threshold-table.md`` (what each ``min_score`` keeps, both ways)
and ``docs/assets/tables/threshold-carry-over.md`` (the same calibration on the top 10, 5 and 3
of the same first stage: how far it carries over when the candidates change).

Run: ``python docs/scripts/threshold.py`` (no scoring: rerun ``experiments/calibrate_bundled.py``
to measure again).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import _common as c

RESULTS = c.ROOT / "benchmarks" / "results" / "bundled_calibration.json"


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def _diagram(dev: dict[str, Any], out: Path, title: str) -> None:
    from rerank_plugins.evaluation.calibration import draw_reliability_bins

    c.pyplot()  # the docs' figure style
    curves = {
        label: (dev[f"bins_{key}"], dev[key]["ece"])
        for key, label in (("before", "own scale (sigmoid of the logit)"), ("after", "calibrated"))
    }
    draw_reliability_bins(curves, out, title=title)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--results", type=Path, default=RESULTS, help="calibrate_bundled.py's output")
    p.add_argument("--out", type=Path, default=c.ASSETS, help="where to write figures and tables")
    args = p.parse_args()
    res = json.loads(args.results.read_text())
    cal, dev = res["calibration"], res["dev"]
    where = (
        f"{dev['claims']} SciFact development claims"
        + (f" (of {res['dev_claims']})" if dev["claims"] < res["dev_claims"] else "")
        + ", dense top-20"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    _diagram(dev, args.out / "threshold-reliability.png", f"{cal['model']} on {where}")
    b, a = dev["before"], dev["after"]
    c.write_table(
        args.out / "tables" / "threshold-metrics.md",
        ["scores", "pairs", "relevant", "ECE", "Brier", "log-loss"],
        [
            ["own scale (sigmoid of the logit)", b["pairs"], b["relevant"]]
            + [f"{b[k]:.3f}" for k in ("ece", "brier", "log_loss")],
            [f"calibrated ({cal['method']}, fit on {cal['pairs']:,} training pairs)", "", ""]
            + [f"{a[k]:.3f}" for k in ("ece", "brier", "log_loss")],
        ],
    )
    rows = [
        [
            f"{x['threshold']:g}",
            f"{x['share_kept']:.1%}",
            _fmt(x["precision"]),
            _fmt(x["recall"]),
            f"{y['share_kept']:.1%}",
            _fmt(y["precision"]),
            _fmt(y["recall"]),
        ]
        for x, y in zip(dev["thresholds_before"], dev["thresholds_after"], strict=True)
    ]
    c.write_table(
        args.out / "tables" / "threshold-table.md",
        ["min_score", "own scale: kept", "precision", "recall", "calibrated: kept", "precision",
         "recall"],
        rows,
    )  # fmt: skip
    c.write_table(
        args.out / "tables" / "threshold-carry-over.md",
        ["candidates", "pairs", "share relevant", "mean calibrated score", "ECE",
         "precision at 0.5", "recall at 0.5"],
        [
            [
                f"dense top-{depth}" + (" (as fit)" if depth == "20" else ""),
                d["pairs"],
                f"{d['relevant'] / d['pairs']:.3f}",
                f"{d['mean_score']:.3f}",
                f"{d['ece']:.3f}",
                _fmt(d["at_0.5"]["precision"]),
                _fmt(d["at_0.5"]["recall"]),
            ]
            for depth, d in dev["depths"].items()
        ],
    )  # fmt: skip
    print(f"{where}: ECE {b['ece']:.3f} -> {a['ece']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
