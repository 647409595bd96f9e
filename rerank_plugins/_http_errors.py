"""The one error boundary of everything that speaks HTTP: hosted scorers, TEI and LLM clients.

Three things, written once and used by :mod:`rerank_plugins.scorers.hosted` (Cohere, Voyage, TEI)
and :mod:`rerank_plugins.scorers.llm` (LangChain, LlamaIndex and callable LLMs):

- :func:`status_class`: an HTTP status → which kind of package error it is;
- :func:`retry_after_seconds`: a ``Retry-After`` header, as delta-seconds or an HTTP date;
- :func:`scrub`: a message with the known key and anything that looks like a key removed, and
  with it :func:`raise_translated` (no secret reaches a traceback through an exception chain) and
  :func:`scrub_logger` (none through an SDK's own log records).

This module imports nothing outside the standard library and the package's exceptions.
"""

from __future__ import annotations

import email.utils
import logging
import math
import re
import time
from collections.abc import Mapping
from typing import Any, NoReturn

from rerank_plugins._exceptions import (
    AuthenticationError,
    RequestRejectedError,
    RerankError,
    TransientError,
    transient_for_status,
)

__all__ = [
    "AUTH_STATUSES",
    "TRANSIENT_STATUSES",
    "ScrubbingFilter",
    "error_for_status",
    "leaks",
    "raise_translated",
    "retry_after_seconds",
    "scrub",
    "scrub_logger",
    "status_class",
]

AUTH_STATUSES = frozenset({401, 403, 498})
"""Missing, rejected or expired credentials (498: an invalid token, as some gateways send)."""
TRANSIENT_STATUSES = frozenset({408, 409, 424, 429})
"""Worth retrying besides every 5xx: request timeout, conflict (a provider busy with the same
resource), failed dependency (an upstream model not ready), rate limited."""


def status_class(status: int) -> type[RerankError]:
    """The package's error class for an HTTP error status.

    >>> [status_class(s).__name__ for s in (401, 413, 429, 503)]
    ['AuthenticationError', 'RequestRejectedError', 'TransientError', 'TransientError']
    """
    if status in AUTH_STATUSES:
        return AuthenticationError
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientError
    return RequestRejectedError


def error_for_status(
    status: int, *, auth: str, rejected: str, transient: str, retry_after: float | None
) -> RerankError:
    """The package's error for an HTTP error status, with the message its kind takes: ``auth``
    (:class:`AuthenticationError`), ``transient`` (a typed :class:`TransientError` carrying
    ``retry_after``) or ``rejected`` (:class:`RequestRejectedError`).

    >>> error_for_status(429, auth="", rejected="", transient="slow down", retry_after=1.0)
    RateLimitedError('slow down')
    """
    kind = status_class(status)
    if kind is AuthenticationError:
        return AuthenticationError(auth)
    if kind is TransientError:
        return transient_for_status(status, transient, retry_after)
    return RequestRejectedError(rejected)


def retry_after_seconds(
    headers: Mapping[str, Any] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date), if any.

    Example:
        >>> retry_after_seconds({"Retry-After": "2"})
        2.0
        >>> retry_after_seconds({"retry-after": "soon"}) is None
        True
    """
    if not headers:
        return None
    try:
        items = list(headers.items())
    except (AttributeError, TypeError):
        return None
    value = next((v for k, v in items if str(k).lower() == "retry-after"), None)
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


_KEY_LIKE = re.compile(
    r"(?i)\b(?:sk|pk|rk|gsk|xai|key|api[_-]?key|bearer)[-_ :=]+[A-Za-z0-9*._\-]{6,}"
    r"|\b[A-Za-z0-9_\-]{32,}\b"
)


def scrub(text: str, secret: str | None = None) -> str:
    """``text`` with ``secret`` replaced by ``***`` and anything that looks like a key redacted.

    The word before a key is redacted with it when it names one ("key", "api_key", "bearer"):

    >>> scrub("bad key sk-abcdef123456 for user", None)
    'bad [redacted] for user'
    >>> scrub("the token sk-abcdef123456 expired", "nope")
    'the token [redacted] expired'
    """
    if secret:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub("[redacted]", text)


def leaks(exc: BaseException, secret: str | None) -> bool:
    """Whether ``exc`` or anything chained to it shows ``secret`` or a key-like string when a
    traceback is formatted (its message, its cause, its context).

    >>> leaks(ValueError("bad key sk-abcdef123456"), None)
    True
    >>> leaks(ValueError("HTTP 503"), "s3cret")
    False
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        text = f"{type(current).__name__}: {current}"
        if scrub(text, secret) != text:
            return True
        todo += [current.__cause__, current.__context__]
    return False


def raise_translated(
    mapped: BaseException, original: BaseException, secret: str | None
) -> NoReturn:
    """Raise ``mapped`` (the package's error for ``original``), chained to ``original`` unless
    that would print a secret in a traceback: then the chain is cut (``mapped``'s own message is
    already scrubbed and says what failed)."""
    if leaks(original, secret):
        raise mapped from None
    raise mapped from original


class ScrubbingFilter(logging.Filter):
    """Redacts ``secret``-like strings from the records of a third-party logger (an SDK that logs
    response bodies, which some servers fill with the key they were sent)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def scrub_logger(name: str) -> None:
    """Install one :class:`ScrubbingFilter` on logger ``name`` (idempotent)."""
    target = logging.getLogger(name)
    if not any(isinstance(f, ScrubbingFilter) for f in target.filters):
        target.addFilter(ScrubbingFilter())
