"""The figures of docs/guides/adapt-to-corpus.md, from the runs of scripts/corpus_only.sh.

Reads ``runs/corpus-only/summary.json`` (training: lists made and kept, steps, seconds) and
``runs/corpus-only-dev/report.json`` (the one measurement on the development claims), and writes
``benchmarks/results/corpus_only.json`` (the record) and ``docs/assets/tables/corpus-only.md``.
With ``--render`` it rewrites the table from the record alone (no runs needed).

Run: ``python scripts/corpus_only_report.py`` (after ``bash scripts/corpus_only.sh SCIFACT_DIR``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rerank_plugins.scorers._hardware import cpu_name

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "benchmarks" / "results" / "corpus_only.json"
TABLE = ROOT / "docs" / "assets" / "tables" / "corpus-only.md"


def collect(runs: Path) -> dict[str, Any]:
    summary = json.loads((runs / "corpus-only" / "summary.json").read_text())
    report = json.loads((runs / "corpus-only-dev" / "report.json").read_text())
    manifest = json.loads((Path(summary["artifact"]) / "reranker.json").read_text())
    made = manifest["recipe"]["corpus"]
    keep = ("before", "after", "absolute_lift", "ci", "p_value", "queries")
    return {
        "training": {
            "documents": made["documents"],
            "kinds": made["kinds"],
            "queries_made": made["made"],
            "held_out": made["held_out"],
            "lists": made["kept"],
            "by_kind": made["by_kind"],
            "steps": summary["steps"],
            "seconds": summary["train_seconds"],
            "best_during_training": summary["best_during_training"],
            "cpu": cpu_name(),
        },
        "development": {
            m: {k: report["comparisons"][m][k] for k in keep} for m in ("nDCG@10", "P@3")
        },
        "first_stage": report["config"]["retriever"],
        "reranker": report["config"]["reranker"],
    }


def render(record: dict[str, Any]) -> str:
    t = record["training"]
    lines = [
        f"Trained from {t['documents']} SciFact abstracts alone ({', '.join(t['kinds'])} "
        f"queries: {t['queries_made']} made, {t['held_out']} held out for early stopping, "
        f"{t['lists']} lists kept by the round trip), {t['steps']} steps in "
        f"{t['seconds'] / 60:.0f} min on 2 cores of an {t['cpu']}. Measured once on the "
        f"{record['development']['P@3']['queries']} development claims, first stage "
        f"{record['first_stage']} top 20:",
        "",
        "| metric | first stage | corpus-only reranker | lift | 95% CI | p (paired test) |",
        "| --- | ---: | ---: | ---: | --- | ---: |",
    ]
    for metric, row in record["development"].items():
        lo, hi = row["ci"]
        lines.append(
            f"| {metric} | {row['before']:.3f} | {row['after']:.3f} | "
            f"{row['absolute_lift']:+.3f} | [{lo:+.3f}, {hi:+.3f}] | {row['p_value']:.3g} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs", help="where the runs are")
    parser.add_argument("--render", action="store_true", help="only rewrite the table")
    args = parser.parse_args()
    if args.render:
        record = json.loads(RECORD.read_text())
    else:
        record = collect(args.runs)
        RECORD.write_text(json.dumps(record, indent=2) + "\n")
    TABLE.write_text(render(record))
    print(TABLE.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
