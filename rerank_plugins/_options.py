"""The options every entry point shares, declared once, and a call's overrides of them.

:class:`RerankOptions` is the one declaration of ``top_n``, ``max_candidates``, ``min_score``,
``budget_ms``, ``on_error`` and ``blend``: :class:`~rerank_plugins.Reranker` and both framework
adapters inherit it, the command line makes its flags from :data:`OPTION_NAMES` and
:data:`OPTION_DOCS`. :func:`for_call` applies a call's own ``top_n`` / ``budget_ms``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from rerank_plugins._checks import is_int, is_number
from rerank_plugins._exceptions import ConfigurationError

__all__ = ["OPTION_DOCS", "OPTION_NAMES", "UNSET", "OnError", "RerankOptions", "for_call"]

OnError = Literal["fallback", "raise"]


@dataclass(kw_only=True)
class RerankOptions:
    """The options every entry point shares: the one declaration of them.

    Everything else derives from these fields: :class:`Reranker` and both framework adapters
    inherit them (same names, types, defaults and checks), the command line makes its flags from
    them, and the API reference renders their documentation. Options are live and strict: a bad
    value, at construction or assigned later, is a :class:`~rerank_plugins.ConfigurationError`
    (also a ``ValueError``) that names the option, the value and a valid example.

    Example:
        >>> options = RerankOptions(top_n=3)
        >>> options.top_n = 0
        Traceback (most recent call last):
            ...
        rerank_plugins._exceptions.ConfigurationError: top_n must be a positive integer or None, \
got 0; pass e.g. top_n=3, or None for all candidates.
    """

    top_n: int | None = field(
        default=None,
        metadata={
            "doc": "How many candidates to return; None returns all; above the number of "
            "candidates it is clamped."
        },
    )
    max_candidates: int | None = field(
        default=None,
        metadata={
            "doc": "Score only the first max_candidates candidates (retrieval order); the rest "
            "follow unscored."
        },
    )
    min_score: float | None = field(
        default=None,
        metadata={
            "doc": "Drop scored candidates whose normalised score (0-1) is below it: a "
            "probability of relevance when the scorer has a calibration, else on the scorer's "
            "own scale."
        },
    )
    budget_ms: float | None = field(
        default=None,
        metadata={
            "doc": "Wall-clock budget for the whole call, in milliseconds: a deadline the "
            "scoring stops at, whatever past calls cost (see the contract guide)."
        },
    )
    on_error: OnError = field(
        default="fallback",
        metadata={
            "doc": "'fallback' keeps candidates unscored after a transient failure; 'raise' "
            "raises TransientError."
        },
    )
    blend: float | None = field(
        default=None,
        metadata={
            "doc": "Weight in [0, 1] of the first-stage score in the final order (z-scores of "
            "both, mixed; see blend_scores); None ranks by the scorer alone."
        },
    )

    def __setattr__(self, name: str, value: Any) -> None:
        # Construction assigns every field through here too: one check for both.
        check = _OPTION_CHECKS.get(name)
        if check is not None:
            check(name, value)
        object.__setattr__(self, name, value)

    @classmethod
    def pick(cls, values: Mapping[str, Any]) -> RerankOptions:
        """Validate the option entries of ``values`` (other keys are ignored); used by the
        adapters so that every entry point validates with the same rules and messages."""
        return cls(**{name: values[name] for name in OPTION_NAMES if name in values})

    @classmethod
    def check(cls, name: str, value: Any) -> None:
        """Validate one option's value with the contract's rule and message (the command line
        uses it for its flags)."""
        _OPTION_CHECKS[name](name, value)

    @property
    def options(self) -> RerankOptions:
        """The options as they are now, as a plain :class:`RerankOptions` (a snapshot)."""
        return RerankOptions(**{name: getattr(self, name) for name in OPTION_NAMES})


def _check_count(name: str, value: object) -> None:
    if value is None:
        return
    if not is_int(value) or value < 1:
        raise ConfigurationError(
            f"{name} must be a positive integer or None, got {value!r}; "
            f"pass e.g. {name}=3, or None for all candidates."
        )


def _fraction(value: object) -> bool:
    return is_number(value) and 0.0 <= value <= 1.0


def _check_fraction(meaning: str, unset: str) -> Any:
    """The check of an option that takes a number in [0, 1] or None."""

    def check(name: str, value: object) -> None:
        if value is not None and not _fraction(value):
            raise ConfigurationError(
                f"{name} must be {meaning}, got {value!r}; pass e.g. {name}=0.5, or None {unset}."
            )

    return check


def _check_budget(name: str, value: object) -> None:
    if value is None:
        return
    if not is_number(value) or not value > 0 or math.isinf(value):
        raise ConfigurationError(
            f"budget_ms must be a positive number of milliseconds, got {value!r}; "
            f"pass e.g. budget_ms=200, or None for no budget."
        )


def _check_on_error(name: str, value: object) -> None:
    if value not in ("fallback", "raise"):
        raise ConfigurationError(f"on_error must be 'fallback' or 'raise', got {value!r}.")


_OPTION_CHECKS: dict[str, Any] = {
    "top_n": _check_count,
    "max_candidates": _check_count,
    "min_score": _check_fraction("a number between 0 and 1 (scores are normalised)", "to keep all"),
    "budget_ms": _check_budget,
    "on_error": _check_on_error,
    "blend": _check_fraction(
        "a weight between 0 and 1 (the first stage's share of the final order)",
        "for the scorer alone",
    ),
}
OPTION_NAMES: tuple[str, ...] = tuple(RerankOptions.__dataclass_fields__)
"""The contract's option names, in declaration order (the one list every entry point uses)."""
OPTION_DOCS: dict[str, str] = {
    name: spec.metadata["doc"] for name, spec in RerankOptions.__dataclass_fields__.items()
}
"""Each option's documentation, from the declaration (adapters' field descriptions, CLI help)."""
UNSET: Any = object()
"""The default of a per-call override: "not given, use the reranker's option"."""


def for_call(options: RerankOptions, top_n: Any = UNSET, budget_ms: Any = UNSET) -> RerankOptions:
    """``options`` with this call's ``top_n`` and ``budget_ms`` where given (:data:`UNSET`: keep
    the reranker's); a per-call value is checked like the option itself.

    >>> options = for_call(RerankOptions(top_n=3), budget_ms=200)
    >>> options.top_n, options.budget_ms
    (3, 200)
    """
    changes = {
        name: value
        for name, value in (("top_n", top_n), ("budget_ms", budget_ms))
        if value is not UNSET
    }
    return replace(options, **changes) if changes else options
