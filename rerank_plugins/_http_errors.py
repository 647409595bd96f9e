"""The one error boundary of everything that speaks HTTP: hosted scorers, TEI and LLM clients.

Three things, written once and used by :mod:`rerank_plugins.scorers._http` (Cohere, Voyage, TEI)
and :mod:`rerank_plugins.scorers._llm_clients` (LangChain, LlamaIndex and callable LLMs):

- :func:`status_class`: an HTTP status → which kind of package error it is;
- :func:`retry_after_seconds`: a ``Retry-After`` header, as delta-seconds or an HTTP date;
- :func:`scrub`: a message with the known key and anything that looks like a key removed.

This module imports nothing outside the standard library and the package's exceptions.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from collections.abc import Mapping
from typing import Any

from rerank_plugins._exceptions import (
    AuthenticationError,
    RequestRejectedError,
    RerankError,
    TransientError,
)

__all__ = ["AUTH_STATUSES", "TRANSIENT_STATUSES", "retry_after_seconds", "scrub", "status_class"]

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

    >>> scrub("bad key sk-abcdef123456 for user", None)
    'bad key [redacted] for user'
    """
    if secret:
        text = text.replace(secret, "***")
    return _KEY_LIKE.sub("[redacted]", text)
