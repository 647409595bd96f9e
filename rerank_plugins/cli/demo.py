"""``rerank-plugins demo``: retrieve wide, rerank narrow on the SciFact development claims bundled
with the package, offline, with the bundled reranker; prints both top-3s side by side and the P@3
lift."""

from __future__ import annotations

import argparse

from rerank_plugins.cli._runs import (
    add_run_options,
    check_reports,
    measure,
    run_reranking,
    runtime_words,
    scorer_options,
    select_queries,
    write_reports,
)

NAME = "demo"
HELP = "the offline demo on bundled SciFact claims"
DESCRIPTION = (
    "Retrieve wide, rerank narrow on the SciFact development claims bundled with the package; "
    "print both top-3s side by side and the P@3 lift with its significance."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``demo`` options on ``parser``."""
    parser.add_argument(
        "--out", metavar="DIR", help="also write the reports into DIR (default: none written)"
    )
    add_run_options(parser, runtime_default="auto")


def run(args: argparse.Namespace) -> int:
    """Run ``rerank-plugins demo``; returns the exit status (2 for a mistake)."""
    return run_reranking(NAME, args, _demo)


def _demo(args: argparse.Namespace) -> int:
    from rerank_plugins.data import SCIFACT_SPLIT, scifact_path
    from rerank_plugins.evaluation.beir import load_beir
    from rerank_plugins.evaluation.demo import ResolvedScorer, default_scorer
    from rerank_plugins.evaluation.report import describe_lift, render_terminal
    from rerank_plugins.scorers import from_spec

    options = scorer_options(args, "auto")
    if args.reranker_explicit:  # built as asked, or exit 2: the fallback is the default's alone
        resolved = ResolvedScorer(from_spec(args.reranker, **options), args.reranker)
    out = check_reports(args, args.out)
    dataset = load_beir(scifact_path(), split=SCIFACT_SPLIT)
    args.subset = "dev"
    ids = select_queries(args, dataset)
    if args.reranker_explicit:
        resolved.scorer.prepare()  # a model that cannot load: exit 2 here, before retrieval
    else:
        resolved = default_scorer(args.reranker, **options)
    print(
        f"rerank-plugins demo: {len(ids)} SciFact claims (the project's development split) over "
        f"{len(dataset.corpus)} abstracts, bundled with the package (Wadden et al., EMNLP 2020; "
        f"CC BY-NC 2.0).\nFirst stage: {args.retriever}, top {args.k}. Reranker: "
        f"{resolved.scorer.name}"
        + (
            ", long abstracts read as overlapping windows"
            if getattr(resolved.scorer, "long_passages", None) == "windows"
            else ""
        )
        + runtime_words(resolved.scorer)
        + (
            f", blended with the first-stage score (blend={args.blend}: "
            f"{1 - args.blend:g} x z(reranker) + {args.blend:g} x z(first stage)); "
            f"--blend 0 shows the reranker alone."
            if args.blend
            else ", alone (no blend)."
        ),
        flush=True,
    )
    if resolved.note:
        print(f"NOTE: {resolved.note}", flush=True)
    result = measure(args, dataset, ids, resolved.scorer, resolved.spec)
    print()
    print(render_terminal(result))
    print()
    print(f"In short: {describe_lift('P@3', result.comparisons['P@3'])}")
    if resolved.note:
        print(f"(Reranker used: {resolved.scorer.name}, a fallback; see the note above.)")
    if out is not None:
        paths = write_reports(result, out)
        print(f"reports: {paths['text']}, {paths['json']}, {paths['markdown']}")
    return 0
