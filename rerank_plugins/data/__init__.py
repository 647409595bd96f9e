"""Real data bundled with the package, for the offline demo and examples.

``scifact/`` is SciFact (Wadden et al., EMNLP 2020) in BEIR layout: the full corpus, the
training claims, and the judgements of the project's development claims only. License:
CC BY-NC 2.0. See ``scifact/README.md`` for the source and how it was made.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["SCIFACT_SPLIT", "scifact_path"]

SCIFACT_SPLIT = "dev"
"""The qrels split shipped with the bundled SciFact: the project's development claims."""


def scifact_path() -> Path:
    """The folder of the bundled SciFact data (BEIR layout; load it with split ``"dev"``).

    Example:
        >>> from rerank_plugins.data import scifact_path
        >>> (scifact_path() / "qrels" / "dev.tsv").is_file()
        True
    """
    return Path(__file__).resolve().parent / "scifact"
