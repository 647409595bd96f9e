"""The boundary every hosted scorer shares: its key, its errors, its results.

* :class:`Secret` and :func:`resolve_api_key`: the API key (argument or environment, missing →
  :class:`~rerank_plugins.AuthenticationError` at once), never shown in a ``repr``.
* :func:`status_error`: an HTTP status and the server's message → the package's error, by the one
  status table of :mod:`rerank_plugins._http_errors` (401/403/498 →
  :class:`~rerank_plugins.AuthenticationError`, 408/409/424/429/5xx →
  :class:`~rerank_plugins.TransientError` carrying ``Retry-After``, other 4xx →
  :class:`~rerank_plugins.RequestRejectedError`); :func:`transport_error` for httpx's own
  timeouts and connection failures.
* :func:`scores_by_index`: a provider's ``[{index, score}]`` list → one score per text, mapped by
  ``index`` (never by position), with every malformed case (missing, out of range, duplicate
  or absent index, a non-numeric score) a ``malformed_response`` :class:`TransientError`.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

from rerank_plugins._checks import is_int, is_number
from rerank_plugins._exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    MalformedResponseError,
    RerankError,
    TimedOutError,
    TransientError,
)
from rerank_plugins._http_errors import error_for_status, retry_after_seconds
from rerank_plugins._http_errors import scrub as scrub_text

__all__ = [
    "Secret",
    "body_message",
    "env_hint",
    "request_timeout",
    "resolve_api_key",
    "retry_after_seconds",
    "scores_by_index",
    "scrub",
    "status_error",
    "transport_error",
]

_MIN_TIMEOUT_S = 0.001  # a zero timeout means "no timeout" to some clients: never send one


class Secret:
    """An API key that never shows itself: not in ``repr``/``str``, not in a pickle.

    Copies share the one object (``copy``/``deepcopy`` return it), so frameworks that copy
    their components keep working; pickling raises, so the key never lands on disk by accident.

    Example:
        >>> Secret("sk-123")
        Secret('**********')
        >>> Secret("sk-123").get()
        'sk-123'
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The key itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self

    def __reduce__(self) -> Any:
        raise TypeError(
            "An API key is not picklable, so that it never lands on disk; build the scorer "
            "where it runs (the key comes from the environment there)."
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def resolve_api_key(
    api_key: str | None, env_vars: Sequence[str], *, who: str, required: bool = True
) -> Secret | None:
    """The key from the argument, else the first set environment variable.

    Raises:
        AuthenticationError: no key anywhere and ``required``; the message names the variables.

    Example:
        >>> resolve_api_key("k", ["NO_SUCH_VAR"], who="Demo")
        Secret('**********')
    """
    if api_key is not None:
        if not isinstance(api_key, str) or not api_key.strip():
            raise AuthenticationError(
                f"{who} got an empty or non-string api_key; pass the key as a string or set "
                f"{env_hint(env_vars)}."
            )
        return Secret(api_key.strip())
    for var in env_vars:
        value = os.environ.get(var, "").strip()
        if value:
            return Secret(value)
    if not required:
        return None
    raise AuthenticationError(
        f"{who} needs an API key: pass api_key=... or set {env_hint(env_vars)}."
    )


def env_hint(env_vars: Sequence[str]) -> str:
    """The environment variables that may hold the key, for messages."""
    return " or ".join(env_vars)


def status_error(
    who: str,
    status: int,
    detail: str,
    *,
    headers: Mapping[str, Any] | None = None,
    key_hint: str,
    model: str,
    secret: Secret | None = None,
) -> RerankError:
    """The package's error for an HTTP error status from a rerank endpoint.

    Args:
        who: The scorer, e.g. ``"CohereScorer"``.
        status: The HTTP status.
        detail: The server's own message (``message``/``detail``/``error``), for people.
        headers: The response headers (for ``Retry-After``).
        key_hint: How to fix a rejected key, e.g. ``"pass api_key=... or set CO_API_KEY"``.
        model: The model asked for (named in a rejected request's message).
        secret: The key, scrubbed from ``detail`` should a server echo it.

    Example:
        >>> status_error("Demo", 429, "slow down", headers={"Retry-After": "1"},
        ...              key_hint="set DEMO_KEY", model="m").retry_after
        1.0
    """
    detail = scrub(detail, secret)
    wait = retry_after_seconds(headers)
    said = "" if wait is None else f", Retry-After {wait:g}s"
    if status == 413:
        fix = "send fewer or shorter texts per request (lower batch_size / unit_size)"
    elif status == 404:
        fix = f"check base_url and the model name ({model!r})"
    else:
        fix = f"check the model name ({model!r}) and the scorer's options"
    return error_for_status(
        status,
        auth=f"{who}: the server rejected the API key (HTTP {status}: {detail}); {key_hint} "
        f"with a valid key for this endpoint.",
        transient=f"{who}: HTTP {status} from the rerank endpoint{said}: {detail}",
        rejected=f"{who}: the server rejected the request (HTTP {status}: {detail}); {fix}.",
        retry_after=wait,
    )


def scrub(text: str, secret: Secret | None) -> str:
    """``text`` with the key (if any) and anything key-like redacted (the one scrubber)."""
    return scrub_text(text, secret.get() if secret is not None else None)


def body_message(body: object) -> str:
    """The human part of an error body: Cohere ``message``, Voyage ``detail``, TEI ``error``."""
    if isinstance(body, Mapping):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    text = str(body) if body is not None else ""
    return text[:300] if text else "no message"


def scores_by_index(who: str, results: Iterable[tuple[object, object]], n: int) -> list[float]:
    """Map ``(index, score)`` pairs onto the unit's ``n`` texts, by index.

    Raises:
        TransientError: ``reason="malformed_response"`` for a missing, non-integer, out-of-range
            or repeated index, a score that is not a finite number, or fewer results than texts.

    Example:
        >>> scores_by_index("Demo", [(1, 0.9), (0, 0.2)], 2)
        [0.2, 0.9]
    """
    out: list[float | None] = [None] * n
    for index, score in results:
        if not is_int(index):
            raise _malformed(who, f"a result has index {index!r}, not an integer")
        at = index
        if not 0 <= at < n:
            raise _malformed(who, f"a result has index {at}, outside 0..{n - 1}")
        if out[at] is not None:
            raise _malformed(who, f"index {at} appears twice in the results")
        if not is_number(score) or not math.isfinite(cast(float, score)):
            raise _malformed(who, f"the score of index {at} is {score!r}, not a finite number")
        out[at] = float(cast(float, score))
    missing = [i for i, s in enumerate(out) if s is None]
    if missing:
        raise _malformed(
            who, f"{n - len(missing)} results for {n} texts (no score for index {missing[0]})"
        )
    return [s for s in out if s is not None]


def _malformed(who: str, what: str) -> TransientError:
    return MalformedResponseError(f"{who}: malformed rerank response: {what}")


def request_timeout(left: float | None, cap: float) -> float:
    """The timeout of one request: the call's time left, capped at the scorer's own timeout."""
    if left is None:
        return cap
    return max(_MIN_TIMEOUT_S, min(cap, left))


def transport_error(who: str, exc: BaseException) -> TransientError | None:
    """A timeout or connection failure of ``httpx`` (used by the Cohere SDK and TEI)."""
    try:
        import httpx  # the transport of cohere and TEI; present whenever they are
    except ImportError:  # pragma: no cover - only without httpx, when nothing raised its errors
        return None
    if isinstance(exc, (httpx.TimeoutException, asyncio.TimeoutError)):
        return TimedOutError(f"{who}: the request timed out ({exc!r})")
    if isinstance(exc, httpx.TransportError):
        return ConnectionFailedError(f"{who}: connection failed ({type(exc).__name__}: {exc})")
    return None
