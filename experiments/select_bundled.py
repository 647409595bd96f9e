"""Choose the bundled reranker and its defaults on the validation slice, then report dev once.

The protocol (docs/model-card.md):

1. ``experiments/recipe_search.sh`` trained each recipe on the training claims minus the validation
   slice (every 8th training claim), early-stopped on that slice.
2. This script ranks the runs by their best validation nDCG@10 (P@3 breaks ties) and, for the
   winner, measures the inference settings on the same slice with ``rerank-plugins eval``:
   truncation at the trained length, truncation at 512, overlapping windows, and blends with the
   first stage. The setting with the best validation nDCG@10 becomes the default.
3. Only then, with ``--report-dev``, the chosen reranker and setting are measured once on the
   development claims (the figure the demo and the model card report).

Usage:
    python experiments/select_bundled.py SCIFACT_DIR [--runs runs/search] [--out runs/select]
        [--report-dev]

Writes ``<out>/selection.json`` (every figure, the choice) and ``<out>/<variant>/report.*``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

VARIANTS: dict[str, dict[str, Any]] = {
    "truncate": {"options": {}, "blend": None},
    "truncate-512": {"options": {"max_length": 512}, "blend": None},
    "windows": {"options": {"long_passages": "windows"}, "blend": None},
    "truncate-blend-0.25": {"options": {}, "blend": 0.25},
    "windows-blend-0.25": {"options": {"long_passages": "windows"}, "blend": 0.25},
    "truncate-blend-0.5": {"options": {}, "blend": 0.5},
    "truncate-512-blend-0.5": {"options": {"max_length": 512}, "blend": 0.5},
    "windows-blend-0.5": {"options": {"long_passages": "windows"}, "blend": 0.5},
}


def evaluate(
    data: str, artifact: Path, subset: str, variant: dict[str, Any], out: Path
) -> dict[str, Any]:
    if not (out / "report.json").is_file():
        cmd = [
            "rerank-plugins", "eval", data, "--split", "train", "--subset", subset,
            "--reranker", f"cross-encoder:{artifact}", "--k", "20", "--no-progress",
            "--out", str(out), "--reranker-option", "device=cpu",
        ]  # fmt: skip
        for key, value in variant["options"].items():
            cmd += ["--reranker-option", f"{key}={value}"]
        # Always explicit: eval's own default blend must not decide a variant.
        cmd += ["--blend", "none" if variant["blend"] is None else str(variant["blend"])]
        started = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        (out / "seconds.txt").write_text(f"{time.perf_counter() - started:.1f}\n")
    report = json.loads((out / "report.json").read_text())
    config = report["config"]
    if config.get("blend") != variant["blend"] or f"cross-encoder:{artifact}" not in str(
        config.get("reranker")
    ):
        raise SystemExit(
            f"{out}/report.json was made with another setting (blend {config.get('blend')}, "
            f"{config.get('reranker')}); delete the folder and run again."
        )
    figures: dict[str, Any] = {"seconds": float((out / "seconds.txt").read_text())}
    for metric in ("nDCG@10", "P@3"):
        c = report["comparisons"][metric]
        figures[metric] = {
            "before": round(c["before"], 4), "after": round(c["after"], 4),
            "lift": round(c["absolute_lift"], 4), "p": round(c["p_value"], 4),
            "ci": [round(x, 4) for x in c["ci"]], "improved": round(c["improved"], 3),
            "hurt": round(c["hurt"], 3),
        }  # fmt: skip
    figures["queries"] = report["comparisons"]["nDCG@10"]["queries"]
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data")
    parser.add_argument("--runs", default="runs/search")
    parser.add_argument("--out", default="runs/select")
    parser.add_argument("--report-dev", action="store_true")
    parser.add_argument(
        "--prior",
        metavar="FILE",
        help="an earlier selection.json (of an earlier winner) whose validation settings the "
        "record keeps beside this one's",
    )
    parser.add_argument(
        "--settings",
        nargs="+",
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help="inference settings to measure on validation (default: all)",
    )
    parser.add_argument(
        "--ship",
        action="store_true",
        help="copy the chosen artifact into rerank_plugins/models/scifact-minilm (its manifest "
        "recommending the chosen setting) and the selection into benchmarks/results",
    )
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    runs = {}
    for summary in sorted(Path(args.runs).glob("*/summary.json")):
        s = json.loads(summary.read_text())
        best = s["best_during_training"]
        history = json.loads((summary.parent / "history.json").read_text())
        manifest = json.loads((summary.parent / "best" / "reranker.json").read_text())
        runs[summary.parent.name] = {
            "artifact": str(summary.parent / "best"),
            "validation_ndcg@10": round(best["ndcg@10"], 4),
            "validation_mrr@10": round(best.get("mrr@10", float("nan")), 4),
            "best_step": best["step"],
            "train_seconds": s["train_seconds"],
            "steps": s["steps"],
            "history": [(h["step"], round(h["ndcg@10"], 4)) for h in history],
            "recipe": manifest["recipe"],
        }
    if not runs:
        print(f"no finished runs under {args.runs}", file=sys.stderr)
        return 2
    ranked = sorted(runs, key=lambda name: -runs[name]["validation_ndcg@10"])
    winner = ranked[0]
    for name in ranked:
        print(f"{name:28s} validation nDCG@10 {runs[name]['validation_ndcg@10']:.4f}  "
              f"({runs[name]['train_seconds']:.0f} s)")  # fmt: skip
    artifact = Path(runs[winner]["artifact"])

    settings = {}
    for name in args.settings:
        variant = VARIANTS[name]
        settings[name] = evaluate(args.data, artifact, "validation", variant, out / name)
        f = settings[name]
        print(f"  {name:22s} validation nDCG@10 {f['nDCG@10']['after']:.4f} "
              f"P@3 {f['P@3']['after']:.4f} ({f['seconds']:.0f} s)")  # fmt: skip
    choice = max(
        settings, key=lambda n: (settings[n]["nDCG@10"]["after"], settings[n]["P@3"]["after"])
    )
    selection: dict[str, Any] = {
        "protocol": __doc__,
        "settings_measured": args.settings,
        "runs": runs,
        "winner": winner,
        "validation_settings": settings,
        "chosen_setting": choice,
        "chosen_variant": VARIANTS[choice],
    }
    if args.prior:
        prior = json.loads(Path(args.prior).read_text())
        selection["prior"] = {
            "winner": prior["winner"],
            "validation_settings": prior["validation_settings"],
        }
    if args.report_dev:
        chosen = VARIANTS[choice]
        selection["dev"] = evaluate(args.data, artifact, "dev", chosen, out / f"dev-{choice}")
        alone = {"options": chosen["options"], "blend": None}  # the same model, no blend
        selection["dev_alone"] = (
            selection["dev"]
            if chosen["blend"] is None
            else evaluate(args.data, artifact, "dev", alone, out / f"dev-{choice}-alone")
        )
    (out / "selection.json").write_text(json.dumps(selection, indent=2) + "\n")
    print(f"chosen: {winner} with {choice}; written {out / 'selection.json'}")
    if args.ship:
        ship(artifact, VARIANTS[choice], out / "selection.json", args.data)
    return 0


def ship(artifact: Path, variant: dict[str, Any], selection: Path, data: str) -> None:
    root = Path(__file__).resolve().parent.parent
    target = root / "rerank_plugins" / "models" / "scifact-minilm"
    shutil.copyfile(artifact / "weights.safetensors", target / "weights.safetensors")
    manifest = json.loads((artifact / "reranker.json").read_text())
    manifest["inference"] = dict(variant["options"])
    if "max_length" in manifest["inference"]:
        manifest["max_length"] = manifest["inference"].pop("max_length")
    manifest["recipe"]["data"] = (
        "SciFact (BEIR layout), qrels/train.tsv; CC BY-NC 2.0, Wadden et al. 2020"
    )
    (target / "reranker.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    # The record names the dataset folder by its role, not by this machine's path.
    text = selection.read_text().replace(json.dumps(str(data))[1:-1], "SCIFACT_DIR")
    (root / "benchmarks" / "results" / "bundled_selection.json").write_text(text)
    print(f"shipped {artifact} to {target}")


if __name__ == "__main__":
    sys.exit(main())
