"""What ``train`` and ``distill`` share: where training lists come from (a BEIR folder, documents
alone), how a run is set up (``--output``, ``--overwrite``), the cost said before the work, and
the development report on held-out queries."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rerank_plugins._exceptions import ConfigurationError, RerankError

__all__ = [
    "RUN_FILES",
    "add_data_arguments",
    "add_training_arguments",
    "clear_for_overwrite",
    "evaluate_artifact",
    "label_with_estimate",
    "run_training",
]

_MAX_HELD_OUT = 200
"""Most made queries held out for early stopping (each is a ranking over its candidates: an
evaluation of a few hundred keeps a check during training under a minute on a CPU)."""
RUN_FILES = (
    "summary.json",
    "final",
    "best",
    "checkpoints",
    "history.json",
    "dev_scores.json",
    "teacher_lists.jsonl",
)
"""What a run of ``train`` leaves in ``--output`` (see :mod:`rerank_plugins.training.trainer`)."""


def add_data_arguments(parser: argparse.ArgumentParser, source: Any) -> None:
    """Register where training lists come from (``train`` and ``distill`` share them);
    ``source`` is the group holding the mutually exclusive data sources."""
    source.add_argument("--beir", metavar="DIR", help="dataset folder in BEIR layout")
    parser.add_argument(
        "--corpus",
        metavar="DIR",
        help="documents only (a folder with corpus.jsonl, or the file): make training queries "
        "from them; alone, no judgement is used at all; with --beir, added to the judged lists",
    )
    parser.add_argument(
        "--synthetic",
        default="title,cloze",
        metavar="KINDS",
        help="queries made from --corpus: title (a title for its text), cloze (a sentence for "
        "the rest of its document), written (queries an LLM wrote, from --queries-file), "
        "comma-separated (default: title,cloze)",
    )
    parser.add_argument(
        "--queries-file",
        metavar="FILE",
        help="with --synthetic written: JSONL of queries an LLM wrote for documents of --corpus "
        "({doc_id, query} a line; the Python API's write_queries makes it)",
    )
    parser.add_argument(
        "--roundtrip-k",
        type=int,
        default=20,
        help="keep a made query only if the first stage ranks its document in its top K "
        "(default 20; 0 keeps all)",
    )
    parser.add_argument(
        "--max-documents",
        type=int,
        default=None,
        help="make queries from this many documents of --corpus, drawn with --seed (default: all)",
    )
    parser.add_argument("--output", required=True, metavar="DIR", help="checkpoints and artifacts")
    parser.add_argument("--split", default="train", help="qrels split of --beir (default: train)")
    parser.add_argument("--candidates", type=int, default=20, help="first-stage depth (k)")
    parser.add_argument("--hard-negatives", type=int, default=4, help="mined negatives a list")
    parser.add_argument("--random-negatives", type=int, default=3, help="random ones a list")
    parser.add_argument("--max-positives", type=int, default=1, help="positives a list")
    parser.add_argument("--rounds", type=int, default=1, help="lists per query, fresh negatives")
    parser.add_argument(
        "--validation-every",
        type=int,
        default=8,
        metavar="N",
        help="hold every Nth training query out for early stopping (default: 8)",
    )
    parser.add_argument(
        "--bm25-negatives", type=int, default=0, help="more hard negatives from the BM25 top-k"
    )


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Register how training runs (``train`` and ``distill`` share them)."""
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over the lists")
    parser.add_argument("--batch-size", type=int, default=8, help="lists per step")
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak learning rate (default: by --method: lora 3e-4, top_layers 1e-4, full 3e-5)",
    )
    parser.add_argument("--max-length", type=int, default=160, help="tokens per pair")
    parser.add_argument(
        "--eval-steps",
        type=int,
        default=None,
        help="validate every N steps (default: twice per epoch)",
    )
    parser.add_argument(
        "--autocast",
        choices=("none", "bf16"),
        default="none",
        help="bf16: train under bfloat16 autocast (about 2x faster on AMX / AVX-512-BF16 CPUs)",
    )
    parser.add_argument(
        "--no-dev-report",
        action="store_true",
        help="skip the final development-split report (for recipe searches: choose on validation)",
    )
    parser.add_argument(
        "--patience",
        type=int,
        default=None,
        help="stop after N validations without a better nDCG@10 (default: never early)",
    )
    parser.add_argument(
        "--attention-dropout",
        type=float,
        default=None,
        help="dropout on attention probabilities (default: the model's); 0 lets fused "
        "attention run",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of sampling and training")
    parser.add_argument(
        "--precision",
        choices=("float32", "float16"),
        default="float32",
        help="precision of the saved artifact",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--device", default=None, help="cpu, cuda, mps (default: the best available)"
    )
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run an earlier command left in --output (without it, such a folder is "
        "refused before any work; --resume continues it instead)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def clear_for_overwrite(args: argparse.Namespace, command: str) -> None:
    """With ``--overwrite`` (and not ``--resume``): remove what an earlier run of ``train`` or
    ``distill`` left in ``--output`` (its own entries only) and say which; called once every
    check has passed, so a refused run removes nothing."""
    from rerank_plugins.evaluation.outputs import clear_earlier

    if args.overwrite and not args.resume:
        removed = clear_earlier(args.output, RUN_FILES)
        if removed:
            print(
                f"rerank-plugins {command}: --overwrite: removed the earlier run's "
                f"{', '.join(removed)} from {args.output}",
                file=sys.stderr,
            )


def run_training(
    args: argparse.Namespace,
    command: str,
    *,
    what: str,
    check: Callable[[argparse.Namespace], None],
    body: Callable[[argparse.Namespace], dict[str, Any]],
    said: str = "",
) -> int:
    """Run ``train`` or ``distill``; returns the exit status.

    Before any work: ``--output`` (a file in the way, an unwritable place or an earlier run
    holding ``what`` is refused) and ``check(args)``; then the earlier run is cleared
    (``--overwrite``), ``body(args)`` runs, and its summary is printed and saved. A mistake is
    one line, ``rerank-plugins COMMAND: `` + ``said`` + the message, and exit status 2.
    """
    from rerank_plugins.evaluation.outputs import prepare_output

    try:
        prepare_output(args.output, flag="--output", holds=RUN_FILES, what=what,
                       overwrite=args.overwrite, resume=args.resume)  # fmt: skip
        check(args)
        clear_for_overwrite(args, command)
        write_summary(args, body(args))
    except RerankError as exc:
        print(f"rerank-plugins {command}: {said}{exc}", file=sys.stderr)
        return 2
    return 0


def write_summary(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    """Print the run's JSON summary and write it to ``<output>/summary.json``."""
    from rerank_plugins.evaluation.outputs import write_error

    text = json.dumps(summary, indent=2)
    print(text, flush=True)
    try:
        Path(args.output, "summary.json").write_text(text + "\n")
    except OSError as exc:
        raise write_error(exc, Path(args.output, "summary.json")) from None


def set_threads(args: argparse.Namespace) -> None:
    """``--threads``: torch's CPU threads (the train extra is installed: training needs it)."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def beir_data(args: argparse.Namespace, progress: bool) -> tuple[Any, Any, dict[str, Any], Any]:
    from rerank_plugins.evaluation.beir import dev_train_split, load_beir, validation_split
    from rerank_plugins.evaluation.retrieval import retrieve
    from rerank_plugins.training.data import beir_examples, reranking_examples

    dataset = load_beir(args.beir, split=args.split)
    dev_ids, judged_train = dev_train_split(dataset)
    validation_ids, train_ids = validation_split(judged_train, args.validation_every)
    depth = max(args.candidates, 20)
    hits = retrieve(dataset, dev_ids + judged_train, kind="dense", k=depth, progress=progress)
    ranked = {qid: [hit.doc_id for hit in row] for qid, row in hits.items()}
    lexical = None
    if args.bm25_negatives:
        bm25 = retrieve(dataset, train_ids, kind="bm25", k=depth, progress=progress)
        lexical = {qid: [hit.doc_id for hit in row] for qid, row in bm25.items()}
    train = beir_examples(
        dataset, train_ids, ranked,
        hard_negatives=args.hard_negatives, random_negatives=args.random_negatives,
        max_positives=args.max_positives, hard_pool=args.candidates, rounds=args.rounds,
        seed=args.seed, bm25_candidates=lexical, bm25_negatives=args.bm25_negatives,
    )  # fmt: skip
    top = {qid: ranked[qid][: args.candidates] for qid in dev_ids}
    validation = reranking_examples(
        dataset, validation_ids, {qid: ranked[qid][: args.candidates] for qid in validation_ids}
    )
    recipe = {
        "data": str(args.beir),
        "split_rule": (
            "dev = judged queries with line index % 5 == 0 (never trained on, never used to "
            f"choose); validation = every {args.validation_every}th other judged query (early "
            "stopping); train = the rest"
        ),
        "train_queries": len(train_ids), "validation_queries": len(validation_ids),
        "dev_queries": len(dev_ids),
        "first_stage": f"dense all-MiniLM-L6-v2 top-{args.candidates}",
        "hard_negatives": args.hard_negatives, "bm25_negatives": args.bm25_negatives,
        "random_negatives": args.random_negatives,
        "max_positives": args.max_positives, "rounds": args.rounds, "method": args.method,
    }  # fmt: skip

    def held_out(artifact: Path) -> dict[str, Any]:
        return evaluate_artifact(artifact, dataset, top, max_length=args.max_length)

    return train, validation, recipe, held_out


def corpus_data(
    args: argparse.Namespace, progress: bool, *, validate: bool
) -> tuple[list[Any], list[Any] | None, dict[str, Any]]:
    """Lists made from the documents alone, and (with ``validate``) a held-out slice of them."""
    from rerank_plugins.evaluation.beir import load_corpus
    from rerank_plugins.evaluation.retrieval import DenseRetriever
    from rerank_plugins.training.synthetic import corpus_examples

    corpus = load_corpus(args.corpus)
    kinds, queries = _made_queries(args, corpus)
    depth = max(args.candidates, args.roundtrip_k or 0, 20)
    retriever = DenseRetriever(corpus, device=args.device)
    hits = retriever.search({str(i): q.query for i, q in enumerate(queries)}, k=depth,
                            progress=progress)  # fmt: skip
    ranked = {i: [h.doc_id for h in hits[str(i)]] for i in range(len(queries))}
    # Every 8th made query, at most _MAX_HELD_OUT of them, is held out for early stopping.
    held = set([i for i in range(len(queries)) if validate and i % 8 == 7][:_MAX_HELD_OUT])
    lists, report = corpus_examples(
        corpus,
        [q for i, q in enumerate(queries) if i not in held],
        {n: ranked[i] for n, i in enumerate(i for i in range(len(queries)) if i not in held)},
        roundtrip_k=args.roundtrip_k or None,
        hard_negatives=args.hard_negatives,
        random_negatives=args.random_negatives,
        hard_pool=args.candidates,
        seed=args.seed,
    )
    dev = _held_out_lists(args, corpus, queries, ranked, held) if held else None
    sources = len({q.doc_id for q in queries})  # a written file may cover part of the corpus
    # Counts over every made query; the held-out ones are the validation slice, not lists.
    report = {**report, "made": len(queries), "held_out": len(held)}
    recipe = {
        "data": str(args.corpus), "documents": sources, "kinds": kinds, **report,
        "validation_queries": len(dev or []), "hard_negatives": args.hard_negatives,
        "random_negatives": args.random_negatives,
        "first_stage": f"dense all-MiniLM-L6-v2 top-{args.candidates}",
    }  # fmt: skip
    print(
        f"rerank-plugins train: {report['made']} queries made from {sources} documents; "
        f"{len(held)} held out for early stopping ({len(dev or [])} of them round-trip), "
        f"{report['kept']} of the others kept by the round trip (top {args.roundtrip_k})",
        file=sys.stderr,
    )
    return lists, dev, recipe


def _made_queries(args: argparse.Namespace, corpus: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """``--synthetic``'s kinds, and the queries made of them from (``--max-documents`` of) the
    corpus."""
    import random

    from rerank_plugins.training.synthetic import cloze_queries, read_queries, title_queries

    kinds = [k.strip() for k in args.synthetic.split(",") if k.strip()]
    unknown = sorted(set(kinds) - {"title", "cloze", "written"})
    if unknown or not kinds:
        raise ConfigurationError(
            f"--synthetic takes title, cloze and/or written, comma-separated, got "
            f"{args.synthetic!r}."
        )
    if ("written" in kinds) != bool(args.queries_file):
        raise ConfigurationError(
            "--synthetic written and --queries-file go together: the file holds the queries an "
            "LLM wrote (experiments/write_queries.py, or write_queries in Python)."
        )
    chosen = corpus
    if args.max_documents is not None and args.max_documents < len(corpus):
        keep = random.Random(args.seed).sample(list(corpus), args.max_documents)
        chosen = {d: corpus[d] for d in keep}
    queries = []
    if "title" in kinds:
        queries += title_queries(chosen)
    if "cloze" in kinds:
        queries += cloze_queries(chosen, seed=args.seed)
    if "written" in kinds:
        queries += [q for q in read_queries(args.queries_file, corpus) if q.doc_id in chosen]
    return kinds, queries


def _held_out_lists(
    args: argparse.Namespace,
    corpus: dict[str, Any],
    queries: list[Any],
    ranked: dict[int, list[str]],
    held: set[int],
) -> list[Any]:
    """Held-out made queries, ranked over their first-stage candidates: early stopping without
    a single judged query."""
    from rerank_plugins.training.data import RankingExample

    return [
        RankingExample(
            queries[i].query,
            tuple(f"{corpus[d][0]} {corpus[d][1]}".strip() for d in ranked[i][: args.candidates]),
            tuple(float(d == queries[i].doc_id) for d in ranked[i][: args.candidates]),
        )
        for i in sorted(held)
        if queries[i].doc_id in ranked[i][: args.candidates]
    ]


def label_with_estimate(
    command: str,
    teacher: str,
    lists: list[Any],
    label: Callable[[list[Any], Callable[[int, int], None] | None], list[Any]],
    progress: bool,
) -> list[Any]:
    """``label(lists, on_progress)`` run over ``lists``, with its cost said first (the first
    list timed here, times the rest) and a progress bar; shared by ``train --teacher`` and
    ``distill``."""
    import time

    started = time.perf_counter()
    first = label(lists[:1], None)
    each = time.perf_counter() - started
    print(
        f"rerank-plugins {command}: the teacher {teacher} labels {len(lists)} lists of up to "
        f"{max(len(ex.texts) for ex in lists)} texts; about {each:.1f} s a list here, "
        f"{each * len(lists) / 60:.0f} min in all",
        file=sys.stderr,
    )
    bar = _bar(len(lists) - 1, "teacher", progress)
    return first + label(lists[1:], lambda done, _: bar(done))


def _bar(total: int, what: str, progress: bool) -> Any:
    """``update(done)`` for a tqdm bar, or a line to stderr at each tenth without one."""
    if progress:
        from tqdm.auto import tqdm

        shown = tqdm(total=total, desc=what)

        def update(done: int) -> None:
            shown.update(done - shown.n)
            if done == total:
                shown.close()

        return update
    tenth = max(1, total // 10)

    def report(done: int) -> None:
        if done % tenth == 0 or done == total:
            print(f"rerank-plugins train: {what} {done}/{total}", file=sys.stderr, flush=True)

    return report


def estimate(args: argparse.Namespace, train: list[Any], *, model: Any = None) -> None:
    """Say before training what it will cost: lists, steps, and seconds per step measured here
    (one forward pass of a real batch, times 3 for the backward pass and the update), on
    ``model`` (a distilled student) or else a fresh copy of ``--base``."""
    import math
    import time

    if not train:
        raise ConfigurationError("rerank-plugins train: no training lists were made; see above.")
    steps = math.ceil(len(train) / args.batch_size * args.epochs)
    texts = max(len(ex.texts) for ex in train)
    try:
        if model is None:
            from sentence_transformers import CrossEncoder

            from rerank_plugins.artifact import resolve_base

            model = CrossEncoder(resolve_base(args.base), num_labels=1,
                                 max_length=args.max_length, device=args.device)  # fmt: skip
        batch = [(ex.query, t) for ex in train[: args.batch_size] for t in ex.texts]
        model.predict(batch[:8], show_progress_bar=False)
        started = time.perf_counter()
        model.predict(batch, batch_size=len(batch), show_progress_bar=False)
        per_step = 3 * (time.perf_counter() - started)
        cost = f"about {per_step:.1f} s a step here, {per_step * steps / 60:.0f} min in all"
    except Exception as exc:  # the estimate is advice: never stop training for it
        cost = f"no estimate ({type(exc).__name__})"
    print(
        f"rerank-plugins train: {len(train)} lists of up to {texts} texts, {steps} steps of "
        f"{args.batch_size} lists at {args.max_length} tokens: {cost}",
        file=sys.stderr,
    )


def evaluate_artifact(
    artifact: str | Path | Any,
    dataset: Any,
    candidates: dict[str, list[str]],
    *,
    max_length: int | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """Rerank each query's first-stage candidates with ``artifact`` (a folder, or a loaded
    ``CrossEncoder``) and compare with the first stage alone: nDCG@10 and P@3 means, the paired
    test and the bootstrap interval per metric.

    Returns:
        ``{"queries", "ndcg@10": Comparison dict, "p@3": Comparison dict, "scores"}``, where
        ``scores`` holds every candidate's raw score (for blends and later analysis).
    """
    from rerank_plugins.artifact import load_reranker
    from rerank_plugins.evaluation.metrics import ndcg_at, precision_at
    from rerank_plugins.evaluation.stats import compare

    model = (
        load_reranker(artifact, max_length=max_length)
        if isinstance(artifact, str | Path)
        else artifact
    )
    scores: dict[str, dict[str, float]] = {}
    for qid, docs in candidates.items():
        pairs = [(dataset.queries[qid], dataset.document_text(doc)) for doc in docs]
        logits = model.predict(
            pairs, batch_size=batch_size, convert_to_numpy=True, activation_fn=None
        )
        scores[qid] = {doc: float(x) for doc, x in zip(docs, logits.tolist(), strict=True)}
    out: dict[str, Any] = {"queries": len(candidates)}
    for name, metric, k in (("ndcg@10", ndcg_at, 10), ("p@3", precision_at, 3)):
        before = [metric(candidates[qid], dataset.qrels[qid], k) for qid in candidates]
        after = [
            metric(sorted(docs, key=lambda d, q=qid: -scores[q][d]), dataset.qrels[qid], k)  # type: ignore[misc]
            for qid, docs in candidates.items()
        ]
        out[name] = compare(before, after).as_dict()
    out["scores"] = scores
    return out
