"""``rerank-plugins calibrate DATASET``: fit a map from a reranker's scores to P(relevant) on
judged data, check it on other judged queries, write it (``calibration.json``) with its
reliability diagram and threshold table."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins.cli._common import err, progress_bars, run_measuring
from rerank_plugins.cli._runs import (
    SUBSETS,
    add_first_stage,
    add_judged_queries,
    add_reranker_option,
    retrieve,
    scorer_options,
    select_queries,
)

NAME = "calibrate"
HELP = "fit a reranker's map from scores to P(relevant) on judged data"
DESCRIPTION = (
    "Score judged queries' first-stage candidates, fit a monotone map from the reranker's score "
    "to P(relevant) on one subset, check it on another (never the pairs it was fit on), and "
    "write it with its reliability diagram. Give the file to a scorer as calibration=PATH (or "
    "--reranker-option calibration=PATH)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``calibrate`` options on ``parser`` (an argument table)."""
    cal = parser
    cal.add_argument("dataset", help="a folder in BEIR layout with judgements (qrels/<split>.tsv)")
    cal.add_argument("--reranker", required=True, metavar="SPEC", help="the scorer to calibrate")
    add_reranker_option(cal, runtime_default="torch")
    add_judged_queries(
        cal,
        split="train",
        subset="fit",
        subset_help="the judged queries to fit on (default: fit, the training queries without "
        "the validation slice; see eval --help)",
    )
    cal.add_argument(
        "--check-subset",
        choices=SUBSETS,
        default="validation",
        help="the judged queries the before/after figures are measured on; must not share a "
        "query with --subset (default: validation)",
    )
    cal.add_argument(
        "--method",
        choices=("platt", "isotonic"),
        default="platt",
        help="platt: sigmoid(a * score + b), two parameters (default); isotonic: a step curve",
    )
    cal.add_argument(
        "--out",
        metavar="FILE",
        default="calibration.json",
        help="the calibration file to write; the reliability diagram goes beside it as "
        "<name>.png (default: %(default)s)",
    )
    cal.add_argument(
        "--overwrite", action="store_true", help="replace an existing --out file and its diagram"
    )
    add_first_stage(cal, limit_help="use only the first N queries of each")


def run(args: argparse.Namespace) -> int:
    """Run ``rerank-plugins calibrate``; returns the exit status (2 for a mistake)."""
    return run_measuring(NAME, args, _calibrate)


def _calibrate(args: argparse.Namespace) -> int:
    from rerank_plugins.evaluation.beir import load_beir
    from rerank_plugins.evaluation.calibration import draw_reliability, fit_and_check, score_pairs
    from rerank_plugins.scorers import from_spec

    out, plot = _check_arguments(args)
    dataset = load_beir(args.dataset, split=args.split)
    fit_ids = select_queries(args, dataset)
    check_ids = select_queries(
        argparse.Namespace(**{**vars(args), "subset": args.check_subset}), dataset
    )
    scorer = from_spec(args.reranker, **scorer_options(args, "torch"))
    retriever, hits = retrieve(args, dataset, fit_ids + check_ids)
    bar = _pair_progress(args)
    err(f"scoring {len(hits)} queries' top {args.k} with {scorer.name}...")
    fit_pairs = score_pairs(dataset, {q: hits[q] for q in fit_ids}, scorer, progress=bar)
    check_pairs = score_pairs(dataset, {q: hits[q] for q in check_ids}, scorer, progress=bar)
    where = f"{Path(str(dataset.path)).name} qrels/{args.split}.tsv"
    run = fit_and_check(
        fit_pairs,
        check_pairs,
        scorer,
        method=args.method,
        data=f"{where}, subset {args.subset} ({len(fit_ids)} queries)",
        first_stage=f"{retriever.name} top-{args.k}",
        checked_on=f"{where}, subset {args.check_subset} ({len(check_ids)} queries)",
    )
    run.calibration.save(out, overwrite=args.overwrite)
    before, after, labels = run.check_probs
    draw_reliability(
        {"own scale": (before, labels), "calibrated": (after, labels)},
        plot,
        title=f"{scorer.name}, {args.check_subset} subset (not fit on)",
    )
    _print_run(run, scorer.name)
    print(f"\nwrote {out} and {plot}; use it with calibration={str(out)!r}")
    return 0


def _check_arguments(args: argparse.Namespace) -> tuple[Path, Path]:
    """Before any work: the calibration file and its diagram (``--out``), and subsets that do
    not overlap."""
    out = Path(args.out)
    if out.suffix != ".json":
        raise ConfigurationError(f"--out must name a .json file, got {str(out)!r}.")
    plot = out.with_suffix(".png")
    _check_outputs([out, plot], overwrite=args.overwrite)
    if args.subset == args.check_subset or "all" in (args.subset, args.check_subset):
        raise ConfigurationError(
            f"--subset {args.subset} and --check-subset {args.check_subset} overlap; a "
            f"calibration is checked on queries it was not fit on (e.g. --subset fit "
            f"--check-subset validation)."
        )
    return out, plot


def _print_run(run: Any, name: str) -> None:
    """The calibration, where it was fit and checked, and the before/after tables."""
    from rerank_plugins.evaluation.calibration import render_summary, render_threshold_table

    cal = run.calibration
    print(f"calibration of {name}: {cal.describe()}")
    print(f"fit on {cal.pairs} pairs ({cal.positives} relevant): {cal.data}")
    print(
        f"checked on {run.after['pairs']} pairs ({run.after['relevant']} relevant): "
        f"{cal.metrics['evaluated_on']}"
    )
    print("\n".join(render_summary(run.before, run.after)))
    print("\nwhat min_score keeps, on the scorer's own scale:")
    print("\n".join(render_threshold_table(run.table_before)))
    print("\nwhat min_score keeps, calibrated:")
    print("\n".join(render_threshold_table(run.table_after)))


def _pair_progress(args: argparse.Namespace) -> Any:
    if not progress_bars(args):
        return None
    from rerank_plugins._optional import require

    tqdm = require("tqdm", extra="eval", who="rerank-plugins calibrate")
    return lambda items: tqdm.tqdm(list(items), desc="scoring", unit="query")


def _check_outputs(paths: Sequence[Path], *, overwrite: bool) -> None:
    """Before any work: refuse to replace a file silently, and make sure the folder can be
    written."""
    for path in paths:
        if path.exists() and not overwrite:
            raise ConfigurationError(
                f"{path} already exists; pass --overwrite to replace it, or another --out."
            )
        folder = path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot create the folder {folder}: {exc.strerror}."
            ) from None
        if not os.access(folder, os.W_OK):
            raise ConfigurationError(f"Cannot write into {folder}: permission denied.")
