"""The package's exceptions.

Every error the package raises is a :class:`RerankError`::

    RerankError
    ├── ConfigurationError (also ValueError)   fix the setup; never retried, never a fallback
    │   ├── MissingDependencyError (also ImportError)   an optional extra is not installed
    │   ├── AuthenticationError                 missing or rejected credentials (401/403)
    │   └── RequestRejectedError                backend refused the request (400/422, bad model)
    ├── InvalidInputError (also ValueError)     a bad argument to one call (a blank query)
    └── TransientError                          worth retrying; ``reason`` and ``retry_after``
        ├── TimedOutError                       the unit's time ran out (a slow backend, the budget)
        ├── ConnectionFailedError               the backend could not be reached, or hung up
        ├── RateLimitedError                    HTTP 429; ``retry_after`` when the server said
        ├── ServerError                         HTTP 5xx (and other statuses worth a retry)
        └── MalformedResponseError              a reply that does not parse (or unusable LLM text)

Configuration errors are also ``ValueError`` and missing extras also ``ImportError``, so existing
``except`` clauses keep working. Messages name who failed, what, the offending value and the fix.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ConnectionFailedError",
    "InvalidInputError",
    "MalformedResponseError",
    "MissingDependencyError",
    "RateLimitedError",
    "RequestRejectedError",
    "RerankError",
    "ServerError",
    "TimedOutError",
    "TransientError",
]


class RerankError(Exception):
    """Base class of every error raised by rerank-plugins."""


class ConfigurationError(RerankError, ValueError):
    """The reranker is set up wrongly; raised at once, never turned into a fallback."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


class AuthenticationError(ConfigurationError):
    """Credentials are missing or were rejected (HTTP 401/403)."""


class RequestRejectedError(ConfigurationError):
    """The backend rejected the request as invalid (HTTP 400/422, unknown model)."""


class InvalidInputError(RerankError, ValueError):
    """An argument of one call is invalid (for example a blank query)."""


class TransientError(RerankError):
    """A failure that may go away on retry.

    Args:
        message: What went wrong, for people.
        reason: A short machine-readable cause, e.g. ``"timeout"``, ``"http_429"``,
            ``"http_503"``, ``"connection"``, ``"malformed_response"``, ``"unparseable_output"``.
        retry_after: Seconds the backend asked us to wait (``Retry-After``), if it said.
    """

    def __init__(self, message: str, *, reason: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


class TimedOutError(TransientError):
    """The unit's time ran out: the backend was too slow, or the call's budget ended first."""

    def __init__(self, message: str, *, reason: str = "timeout", retry_after: float | None = None):
        super().__init__(message, reason=reason, retry_after=retry_after)


class ConnectionFailedError(TransientError):
    """The backend could not be reached, or dropped the connection mid-response."""

    def __init__(
        self, message: str, *, reason: str = "connection", retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason, retry_after=retry_after)


class RateLimitedError(TransientError):
    """HTTP 429: the backend asked us to slow down (``retry_after``: how long, if it said)."""

    def __init__(
        self, message: str, *, reason: str = "http_429", retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason, retry_after=retry_after)


class ServerError(TransientError):
    """An HTTP status worth a retry other than 429 (5xx, 408, 409...); ``reason`` is
    ``"http_<status>"``."""


class MalformedResponseError(TransientError):
    """A reply that cannot be read: not the documented shape, or (``reason=
    "unparseable_output"``) an LLM's text that holds no usable judgement."""

    def __init__(
        self, message: str, *, reason: str = "malformed_response", retry_after: float | None = None
    ) -> None:
        super().__init__(message, reason=reason, retry_after=retry_after)


def transient_for_status(status: int, message: str, retry_after: float | None) -> TransientError:
    """The typed transient error of an HTTP status that is worth a retry.

    >>> type(transient_for_status(429, "slow down", 2.0)).__name__
    'RateLimitedError'
    >>> transient_for_status(503, "busy", None).reason
    'http_503'
    """
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after)
    return ServerError(message, reason=f"http_{status}", retry_after=retry_after)
