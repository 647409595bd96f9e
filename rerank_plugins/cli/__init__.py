"""The ``rerank-plugins`` command line: ``eval``, ``demo``, ``calibrate``, ``train``
and ``distill``.

- ``rerank-plugins eval DATASET``: retrieve wide over a BEIR folder, rerank narrow with any scorer,
  and report the lift (terminal, ``report.json``, ``report.md`` with plots).
- ``rerank-plugins demo``: the same on the SciFact development claims bundled with the package,
  offline, with the bundled reranker; prints both top-3s side by side and the P@3 lift.
- ``rerank-plugins calibrate DATASET``: fit a map from a reranker's scores to P(relevant) on judged
  data, check it on other judged queries, write it (``calibration.json``) with its reliability
  diagram and threshold table.
- ``rerank-plugins train``: fine-tune a reranker (:mod:`rerank_plugins.cli.train`).
- ``rerank-plugins distill``: a shallower, faster copy of a cross-encoder, tuned to a corpus
  (:mod:`rerank_plugins.cli.distill`).

Example:
    $ rerank-plugins eval ../shared/data/scifact --split train --subset dev --out runs/scifact
    $ rerank-plugins demo

Each command is one module of this package with ``NAME``, ``HELP``, ``DESCRIPTION``,
``add_arguments(parser)`` and ``run(args) -> int``; :data:`COMMANDS` lists them, and the parser
is built from that list (a new command is one module and one entry).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from rerank_plugins.cli import calibrate, demo, distill, train
from rerank_plugins.cli import eval as eval_command
from rerank_plugins.cli._common import PROG, check_device
from rerank_plugins.cli._common import HelpFormatter as _HelpFormatter

__all__ = ["COMMANDS", "build_parser", "check_device", "main"]

COMMANDS: tuple[ModuleType, ...] = (eval_command, demo, calibrate, train, distill)
"""The commands, in the order ``rerank-plugins --help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``rerank-plugins``: one sub-command per module of
    :data:`COMMANDS`, each parsed args carrying its command's ``run``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="A rerank stage for RAG pipelines: measure it, demo it, tune it.",
        formatter_class=_HelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        own = sub.add_parser(
            command.NAME,
            help=command.HELP,
            description=command.DESCRIPTION,
            formatter_class=_HelpFormatter,
        )
        command.add_arguments(own)
        own.set_defaults(run_command=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    status: int = args.run_command(args)
    return status
