"""``rerank-plugins distill``: a shallower, faster copy of any cross-encoder, tuned to your corpus.

The teacher labels candidate lists from your data: judged queries of a BEIR folder (``--beir``;
their judgements are not used for training, only the queries and their first-stage candidates) and
queries made from the documents (``--corpus``: titles, sentences, or queries an LLM wrote). The
student keeps ``--layers`` of the teacher's layers and learns its scores. With ``--beir`` the
project's fixed split holds the development queries out, the validation slice drives early
stopping (on nDCG@10 against the judgements), and the chosen student is measured once on the
development queries against the first stage, beside the teacher.

Example::

    rerank-plugins distill --teacher bundled:scifact-minilm --beir path/to/scifact \\
        --corpus path/to/scifact --output runs/student
    rerank-plugins distill --teacher cross-encoder/ms-marco-MiniLM-L12-v2 --corpus docs/ \\
        --layers 4 --output runs/l4        # no judgements at all
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins.cli._training import (
    add_data_arguments,
    add_training_arguments,
    beir_data,
    corpus_data,
    estimate,
    evaluate_artifact,
    label_with_estimate,
    run_training,
    set_threads,
)
from rerank_plugins.training.distill import DISTILL_LOSSES, PICKS, TEACHER_LISTS

__all__ = ["add_arguments", "run"]

NAME = "distill"
HELP = "a faster, shallower copy of a reranker (rerank-plugins distill --help)"
DESCRIPTION = "Distil a cross-encoder into a shallower, faster student tuned to your corpus."
_MADE = ("train_queries", "hard_negatives", "bm25_negatives", "random_negatives", "max_positives",
         "rounds", "corpus")  # fmt: skip
"""Recipe entries that say how lists are made; a run on ``--teacher-lists`` made none."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the ``distill`` options on ``parser``."""
    parser.add_argument(
        "--teacher",
        required=True,
        metavar="SPEC",
        help="the cross-encoder to distil: a hub id, a local folder, a reranker artifact, or "
        "bundled:scifact-minilm",
    )
    add_data_arguments(parser, parser)
    parser.add_argument(
        "--teacher-lists",
        metavar="FILE",
        help=f"reuse lists a teacher already labelled ({TEACHER_LISTS} of an earlier distill "
        "run) instead of labelling again; --beir still gives the validation and dev claims",
    )
    parser.add_argument(
        "--whole-passages",
        action="store_true",
        help="the teacher labels each passage as it is scored in use (a long one as windows, "
        "its best window's score), not truncated at its max length: the student learns the "
        "whole passage's score",
    )
    parser.add_argument(
        "--layers", type=int, default=3, help="the student's encoder layers (default: 3)"
    )
    parser.add_argument(
        "--pick",
        type=_pick,
        default="spread",
        metavar="{spread,first,LIST}",
        help="which teacher layers the student starts from: spread (evenly, up to the top one), "
        "first (the bottom ones), or a comma-separated list of them, e.g. 0,3,5 "
        "(default: spread)",
    )
    parser.add_argument(
        "--start-from",
        metavar="ARTIFACT",
        help="go on training a student an earlier run of this teacher saved (its best/ or "
        "final/ folder), e.g. with more lists or a lower learning rate; its layers replace "
        "--layers and --pick",
    )
    parser.add_argument(
        "--loss",
        choices=DISTILL_LOSSES,
        default="mse",
        help="mse: each logit towards the teacher's; listnet: each list's softmax towards the "
        "teacher's; hidden: mse plus each student layer's hidden states towards the teacher "
        "layer it was copied from (a teacher pass a step; many more targets a pair) "
        "(default: mse)",
    )
    parser.add_argument(
        "--hidden-weight",
        type=float,
        default=1.0,
        help="with --loss hidden: the weight of the hidden-state term (default: 1.0)",
    )
    add_training_arguments(parser)
    parser.set_defaults(
        max_length=None, hard_negatives=15, bm25_negatives=5, random_negatives=4,
        learning_rate=5e-5, batch_size=8, roundtrip_k=20, method="full",
    )  # fmt: skip


def _pick(text: str) -> Any:
    """``--pick``: a named rule, or the layers to keep (``0,3,5``)."""
    if text in PICKS:
        return text
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected {' or '.join(PICKS)} or layer numbers like 0,3,5, got {text!r}"
        ) from None


def run(args: argparse.Namespace) -> int:
    """Run ``rerank-plugins distill``; returns the exit status (2 for a mistake, said in one
    line before any work)."""
    what = "a distillation run"
    return run_training(args, NAME, what=what, check=_check_inputs, body=_distill, said="error: ")


def _check_inputs(args: argparse.Namespace) -> None:
    if not (args.beir or args.corpus or args.teacher_lists):
        raise ConfigurationError(
            "distill needs lists to learn from: --beir DIR (judged queries' candidates), "
            "--corpus DIR (queries made from the documents) and/or --teacher-lists FILE."
        )
    if args.queries_file and not args.corpus:
        raise ConfigurationError(
            "--queries-file holds queries written for the documents of --corpus DIR: pass the "
            "corpus too (with --synthetic written)."
        )
    if args.start_from:  # as a missing student is
        from rerank_plugins.training.distill import start_manifest

        start_manifest(args.start_from)
    if args.corpus:  # an empty or unreadable corpus is said before the teacher loads
        from rerank_plugins.evaluation.beir import load_corpus

        load_corpus(args.corpus)


def _distill(args: argparse.Namespace) -> dict[str, Any]:
    from rerank_plugins.training.distill import distill, load_teacher, read_teacher_lists

    set_threads(args)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    progress = not args.no_progress
    teacher = load_teacher(args.teacher, device=args.device)
    student, pick = _student(args, teacher)  # a bad depth or start fails before any work
    lists, dev, recipe, held_out = _lists(args, progress)
    if not lists and not args.teacher_lists:
        raise ConfigurationError(
            "distill made no candidate lists from the data given (an empty corpus, or no query "
            "kept by the round trip); check --beir / --corpus."
        )
    labelled: list[Any] = read_teacher_lists(args.teacher_lists) if args.teacher_lists else []
    if lists:
        labelled += _label(args, teacher, lists, progress)
        if args.whole_passages:
            recipe = {**recipe, "teacher_reads": "whole passages"}
    estimate(args, labelled, model=student)
    del student
    result = distill(
        labelled, teacher=teacher, output_dir=args.output, depth=len(pick), pick=pick,
        max_length=args.max_length, loss=args.loss, dev=dev, labelled=True, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, eval_steps=args.eval_steps,
        patience=args.patience, seed=args.seed, resume=args.resume, progress=progress,
        device=args.device, recipe=recipe, precision=args.precision, autocast=args.autocast,
        attention_dropout=args.attention_dropout, hidden_weight=args.hidden_weight,
        start_from=args.start_from,
    )  # fmt: skip
    summary: dict[str, Any] = {
        "artifact": str(result.artifact),
        "teacher": args.teacher,
        "layers": list(pick),
        "train_seconds": round(result.seconds, 1),
        "steps": result.steps,
        "best_during_training": result.metrics,
    }
    if held_out is not None and not args.no_dev_report:
        summary["development"] = {
            "student": _drop_scores(held_out(result.artifact)),
            "teacher": _drop_scores(held_out(teacher.model)),
        }
    return summary


def _student(args: argparse.Namespace, teacher: Any) -> tuple[Any, tuple[int, ...]]:
    """The student as it starts (for the cost estimate) and the teacher layers it keeps."""
    from rerank_plugins.training.distill import make_student, student_from, student_layers

    if args.start_from:
        student, _, pick = student_from(teacher, args.start_from, max_length=args.max_length)
        return student, pick
    pick = student_layers(teacher.depth, args.layers, args.pick)
    student, _ = make_student(teacher, args.layers, pick=pick, max_length=args.max_length)
    return student, pick


def _lists(args: argparse.Namespace, progress: bool) -> tuple[list[Any], Any, dict[str, Any], Any]:
    """Candidate lists (labels to be replaced by the teacher's), validation lists, recipe, and
    the development report function (``None`` without ``--beir``)."""
    lists: list[Any] = []
    dev, held_out = None, None
    recipe: dict[str, Any] = {}
    if args.beir:
        lists, dev, recipe, _ = beir_data(args, progress)
        held_out = _development(args)
    if args.corpus:
        made, made_dev, made_recipe = corpus_data(args, progress, validate=dev is None)
        lists += made
        dev = dev if dev is not None else made_dev
        recipe = {**recipe, "corpus": made_recipe}
    if args.teacher_lists:
        # The lists were labelled already: the data folders give validation (and dev) only, so
        # the recipe keeps what describes those, not how lists would have been made from them.
        kept = {key: value for key, value in recipe.items() if key not in _MADE}
        kept["teacher_lists"] = str(args.teacher_lists)
        kept.setdefault("validation_queries", len(dev or []))  # --corpus alone: its slice
        return [], dev, kept, held_out
    return lists, dev, recipe, held_out


def _label(args: argparse.Namespace, teacher: Any, lists: list[Any], progress: bool) -> list[Any]:
    """The lists labelled by the teacher, with the cost said first; saved for reuse."""
    from rerank_plugins.training.distill import label_lists, write_teacher_lists

    def by_teacher(part: list[Any], done: Any) -> list[Any]:
        return list(label_lists(part, teacher, whole_passages=args.whole_passages, progress=done))

    labelled = label_with_estimate("distill", args.teacher, lists, by_teacher, progress)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    write_teacher_lists(labelled, Path(args.output, TEACHER_LISTS))
    return labelled


def _development(args: argparse.Namespace) -> Any:
    """``held_out(artifact) -> figures`` on the development queries, for the student and the
    teacher alike (the teacher by name: a bundled reranker, an artifact or a hub model)."""
    from rerank_plugins.evaluation.beir import dev_train_split, load_beir
    from rerank_plugins.evaluation.retrieval import retrieve

    dataset = load_beir(args.beir, split=args.split)
    dev_ids, _ = dev_train_split(dataset)
    hits = retrieve(dataset, dev_ids, kind="dense", k=args.candidates, progress=False)
    top = {qid: [hit.doc_id for hit in row] for qid, row in hits.items()}

    def held_out(artifact: Any) -> dict[str, Any]:
        return evaluate_artifact(artifact, dataset, top, max_length=args.max_length)

    return held_out


def _drop_scores(figures: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in figures.items() if key != "scores"}
