"""The checks of a call's inputs: the query, the candidates' texts and their first-stage scores.

Bad input is an :class:`~rerank_plugins.InvalidInputError` that says what was expected; the
inputs are never mutated (each check returns a new value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from rerank_plugins._checks import is_number
from rerank_plugins._exceptions import InvalidInputError

__all__ = ["check_query", "check_retrieval_scores", "check_texts", "sanitize"]

_SURROGATES = re.compile("[\ud800-\udfff]")


def check_query(query: object, scorer: object) -> str:
    """``query`` if it is a non-blank string (``scorer`` is named when it is missing)."""
    if query is None:
        raise InvalidInputError(
            f"{type(scorer).__name__} needs a query to rerank against, got None; "
            f"pass the user's question as a non-empty string (in LlamaIndex, a QueryBundle)."
        )
    if not isinstance(query, str):
        raise InvalidInputError(
            f"The query must be a string, got {type(query).__name__}: {query!r}."
        )
    if not query.strip():
        raise InvalidInputError(
            f"The query is blank ({query!r}); pass the user's question as a non-empty string."
        )
    return query


def check_texts(texts: object) -> list[str]:
    """The candidates as a new list of strings (retrieval order)."""
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise InvalidInputError(
            f"Candidates must be a sequence of strings in retrieval order, got "
            f"{type(texts).__name__}; wrap a single text in a list."
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"Candidate {i} must be a string, got {type(text).__name__}: {text!r:.80}."
            )
    return out


def check_retrieval_scores(
    scores: Sequence[float | None] | None, n: int
) -> list[float | None] | None:
    """One first-stage score (or ``None``) per candidate, a non-finite one made ``None``."""
    if scores is None:
        return None
    out = list(scores)
    if len(out) != n:
        raise InvalidInputError(
            f"retrieval_scores has {len(out)} entries for {n} candidates; pass one first-stage "
            f"score (or None) per candidate, or leave it out."
        )
    for i, value in enumerate(out):
        if value is not None and not is_number(value):
            raise InvalidInputError(
                f"retrieval_scores[{i}] must be a number or None, got {value!r:.80}."
            )
        if value is not None and not math.isfinite(value):
            out[i] = None  # NaN or +-inf carries no order: it counts as missing
    return out


def sanitize(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (what every UTF-8 codec can carry)."""
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)
