"""The package's exceptions.

Every error the package raises is a :class:`RerankError`::

    RerankError
    ├── ConfigurationError (also ValueError)   fix the setup; never retried, never a fallback
    │   ├── MissingDependencyError (also ImportError)   an optional extra is not installed
    │   ├── AuthenticationError                 missing or rejected credentials (401/403)
    │   └── RequestRejectedError                backend refused the request (400/422, bad model)
    ├── InvalidInputError (also ValueError)     a bad argument to one call (a blank query)
    └── TransientError                          worth retrying: timeout, connection, 429, 5xx,
                                                malformed response, unparseable LLM output

Configuration errors are also ``ValueError`` and missing extras also ``ImportError``, so existing
``except`` clauses keep working. Messages name who failed, what, the offending value and the fix.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "InvalidInputError",
    "MissingDependencyError",
    "RequestRejectedError",
    "RerankError",
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
