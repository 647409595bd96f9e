"""``rerank-plugins eval DATASET``: retrieve wide over a BEIR folder, rerank narrow with any
scorer, and report the lift (terminal, ``report.json``, ``report.md`` with plots)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rerank_plugins.cli._runs import (
    add_judged_queries,
    add_run_options,
    check_reports,
    measure,
    run_reranking,
    scorer_options,
    select_queries,
    write_reports,
)

NAME = "eval"
HELP = "measure a reranker on a BEIR dataset"
DESCRIPTION = "Retrieve wide, rerank narrow, and report the lift before/after reranking."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``eval`` options on ``parser``."""
    parser.add_argument(
        "dataset", help="a folder in BEIR layout (corpus.jsonl, queries.jsonl, qrels/)"
    )
    add_judged_queries(
        parser,
        split="test",
        subset="all",
        subset_help="which judged queries: all, or the project's fixed split: dev (0-based line "
        "index in queries.jsonl %% 5 == 0), train (the others), validation (every 8th training "
        "query: choose recipes and defaults here), fit (train without validation)",
    )
    parser.add_argument("--out", metavar="DIR", help="report folder (default: runs/eval-<time>)")
    add_run_options(parser, runtime_default="torch")


def run(args: argparse.Namespace) -> int:
    """Run ``rerank-plugins eval``; returns the exit status (2 for a mistake)."""
    return run_reranking(NAME, args, _eval)


def _eval(args: argparse.Namespace) -> int:
    from rerank_plugins.evaluation.beir import load_beir
    from rerank_plugins.evaluation.report import render_terminal
    from rerank_plugins.scorers import from_spec

    scorer = from_spec(args.reranker, **scorer_options(args, "torch"))  # nothing loads yet
    out = check_reports(args, args.out or Path("runs") / time.strftime("eval-%Y%m%d-%H%M%S"))
    assert out is not None
    dataset = load_beir(args.dataset, split=args.split)
    ids = select_queries(args, dataset)
    result = measure(args, dataset, ids, scorer, args.reranker)
    print(render_terminal(result), flush=True)  # the figures first, whatever happens to files
    paths = write_reports(result, out)
    print(
        f"\nreports: {paths['text']}, {paths['json']}, {paths['markdown']} (+ PNG plots in {out})"
    )
    return 0
