"""Where ``rerank-plugins train`` lived before the command line became one package: its names,
kept importable here. The command is :mod:`rerank_plugins.cli.train`; the helpers it shares with
``distill`` are in :mod:`rerank_plugins.cli._training`."""

from __future__ import annotations

from rerank_plugins.cli._training import RUN_FILES as _RUN_FILES
from rerank_plugins.cli._training import (
    add_data_arguments,
    add_training_arguments,
    clear_for_overwrite,
    evaluate_artifact,
    label_with_estimate,
)
from rerank_plugins.cli.train import GEMMA, add_arguments, run

__all__ = [
    "GEMMA",
    "_RUN_FILES",
    "add_arguments",
    "add_data_arguments",
    "add_training_arguments",
    "clear_for_overwrite",
    "evaluate_artifact",
    "label_with_estimate",
    "run",
]
