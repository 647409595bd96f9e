"""What every command of ``rerank-plugins`` shares: the help formatter, flag converters, the
device check and the way a command's mistake becomes one line and exit status 2."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from rerank_plugins._exceptions import ConfigurationError, RerankError
from rerank_plugins.scorers import parse_option

PROG = "rerank-plugins"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's default in ``--help``: appended as ``(default: ...)`` unless the help
    already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text.lower():
            return text
        return super()._get_help_string(action)


def positive_int(text: str) -> int:
    """``type=`` of a flag that takes a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def option(text: str) -> tuple[str, Any]:
    """``type=`` of a ``KEY=VALUE`` flag (``--reranker-option``, ``--teacher-option``)."""
    try:
        return parse_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def err(message: str) -> None:
    """One line of progress or advice, on stderr."""
    print(message, file=sys.stderr, flush=True)


def progress_bars(args: argparse.Namespace) -> bool:
    """Progress bars on a terminal; in a log (CI, nohup, a pipe) one line per stage instead of
    thousands of carriage-return updates."""
    return not args.no_progress and sys.stderr.isatty()


def run_measuring(
    command: str, args: argparse.Namespace, body: Callable[[argparse.Namespace], int]
) -> int:
    """Run ``body(args)`` for ``eval``, ``demo`` or ``calibrate``: quiet loaders in a log, the
    ``--device`` checked first, and a mistake said in one line with exit status 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.no_progress or not sys.stderr.isatty():
        # The model loaders' bars too (read when transformers is first imported): in a log they
        # are carriage-return updates, and each stage already prints one line.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        check_device(args.device)
        return body(args)
    except RerankError as exc:
        print(f"{PROG} {command}: error: {exc}", file=sys.stderr)
        return 2


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
