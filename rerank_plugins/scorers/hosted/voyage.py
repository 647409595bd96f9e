"""Voyage AI rerankers (``POST /v1/rerank``) through the official ``voyageai`` SDK."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Sequence
from typing import Any, ClassVar

from rerank_plugins._calibration import CalibrationLike
from rerank_plugins._checks import check_bool
from rerank_plugins._exceptions import (
    ConnectionFailedError,
    MalformedResponseError,
    RerankError,
    TimedOutError,
    TransientError,
)
from rerank_plugins._http_errors import scrub, scrub_logger
from rerank_plugins._optional import require
from rerank_plugins._scorer import UnitScores
from rerank_plugins.scorers.hosted._boundary import Secret, scores_by_index
from rerank_plugins.scorers.hosted._http import HostedScorer

__all__ = ["VoyageScorer"]

# The SDK builds its result objects with ``documents[item.index]``; a response whose items lack
# an index, or carry one past the list, fails there with one of these.
_SHAPE_ERRORS = (AttributeError, IndexError, KeyError, TypeError)


class VoyageScorer(HostedScorer[Any, Any]):
    """Scores with a Voyage AI reranker: the score is the API's ``relevance_score``.

    The SDK's own retries are off (``max_retries=0``): the core retries 429 (honouring
    ``Retry-After``), 5xx, timeouts and connection errors inside the call's budget, and each
    request's timeout is the time left. Requests above 1,000 texts (Voyage's limit) are split
    into concurrent requests; billed tokens are summed into the stats. Voyage's ``top_k`` is
    never sent: the core owns ``top_n`` and needs every text scored.

    Args:
        model: The reranker, e.g. ``"rerank-2.5"`` or ``"rerank-2.5-lite"``.
        api_key: The key; default: the ``VOYAGE_API_KEY`` environment variable.
        base_url: Another endpoint speaking Voyage's protocol, including its version prefix
            (the SDK's convention), e.g. ``"http://127.0.0.1:8080/v1"``; ``None`` for Voyage.
        truncation: Truncate query and texts to the model's context (``False``: the API
            rejects over-long input with HTTP 400).
        timeout, max_retries, max_concurrency, calibration: As for every
            :class:`~rerank_plugins.scorers.hosted.HostedScorer`.
        unit_size: Texts per request (Voyage accepts at most 1,000).

    Example (``voyage_url`` carries the version prefix, as Voyage's SDK expects):
        >>> import rerank_plugins.testing.server
        >>> with rerank_plugins.testing.server.RerankServer() as server:
        ...     voyage = VoyageScorer(api_key=server.api_key, base_url=server.voyage_url)
        ...     result = rerank_plugins.Reranker(voyage).rerank("red fox", ["a cat", "the red fox"])
        >>> result.stats.billed  # Voyage bills tokens: the query's once per text, plus the texts'
        {'total_tokens': 9.0}
    """

    backend: ClassVar[str] = "voyage"
    env_vars: ClassVar[tuple[str, ...]] = ("VOYAGE_API_KEY",)

    def __init__(
        self,
        model: str = "rerank-2.5",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        truncation: bool = True,
        timeout: float = 60.0,
        max_retries: int = 2,
        max_concurrency: int = 4,
        unit_size: int = 1000,
        calibration: CalibrationLike = None,
    ) -> None:
        super().__init__(locals())
        self.truncation = check_bool("VoyageScorer", "truncation", truncation)
        self.calibration = calibration  # once what the scores mean is known
        # The SDK logs failed responses' bodies (at INFO, at WARNING with voyageai.log set), and
        # a server may echo the key there: its records pass through the package's scrubber.
        scrub_logger("voyage")

    # The SDK takes its timeout per client, not per request, and the time left differs from
    # call to call: so the "client" is a factory of SDK clients, and each request gets its own
    # (cheap: the sync SDK keeps its HTTP session per thread, the async one per request).
    def _new_client(self) -> _Clients:
        voyageai = require("voyageai", extra="voyage", who="VoyageScorer")
        return _Clients(voyageai.Client, self._secret, self.base_url)

    def _new_async_client(self) -> _Clients:
        voyageai = require("voyageai", extra="voyage", who="VoyageScorer")
        return _Clients(voyageai.AsyncClient, self._secret, self.base_url)

    def _arguments(self, query: str, texts: Sequence[str]) -> dict[str, Any]:
        # top_k=None: every text is scored; the core applies top_n (the one place it is cut).
        return {
            "query": query,
            "documents": list(texts),
            "model": self.model,
            "top_k": None,
            "truncation": self.truncation,
        }

    def _request(self, client: Any, query: str, texts: Sequence[str], timeout: float) -> UnitScores:
        try:
            result = client(timeout=timeout).rerank(**self._arguments(query, texts))
        except _SHAPE_ERRORS as exc:
            raise _malformed(exc) from exc
        finally:
            _close_thread_session()
        return self._scores(result, len(texts))

    async def _arequest(
        self, client: Any, query: str, texts: Sequence[str], timeout: float
    ) -> UnitScores:
        try:
            result = await client(timeout=timeout).rerank(**self._arguments(query, texts))
        except _SHAPE_ERRORS as exc:
            raise _malformed(exc) from exc
        return self._scores(result, len(texts))

    def _scores(self, result: Any, n: int) -> UnitScores:
        pairs = [(r.index, r.relevance_score) for r in getattr(result, "results", [])]
        scores = scores_by_index("VoyageScorer", pairs, n)
        tokens = getattr(result, "total_tokens", None)
        billed = {"total_tokens": float(tokens)} if isinstance(tokens, (int, float)) else {}
        return UnitScores(scores, billed)

    def _translate(self, exc: Exception) -> RerankError | None:
        error = require("voyageai.error", extra="voyage", who="VoyageScorer")
        if isinstance(exc, error.Timeout):
            return TimedOutError("VoyageScorer: the request timed out")
        if isinstance(exc, error.APIConnectionError):
            return ConnectionFailedError(f"VoyageScorer: connection failed ({exc.user_message})")
        if not isinstance(exc, error.VoyageError):
            return _transport_error(exc)
        status = exc.http_status or 0
        if 200 <= status < 300:
            return MalformedResponseError(
                f"VoyageScorer: malformed rerank response (HTTP {status}): the body is not "
                f"valid JSON",
            )
        body = exc.json_body if exc.json_body is not None else exc.user_message
        return self.status_error(status, body, exc.headers)


class _Clients:
    """Builds one SDK client per request; the key stays a :class:`Secret` until that moment."""

    def __init__(self, cls: Any, secret: Secret | None, base_url: str | None) -> None:
        self._cls = cls
        self._secret = secret
        self._base_url = base_url

    def __call__(self, *, timeout: float) -> Any:
        return self._cls(
            api_key=None if self._secret is None else self._secret.get(),
            max_retries=0,  # the core's retry loop is the only one
            timeout=timeout,
            base_url=self._base_url,
        )

    def __repr__(self) -> str:
        return f"_Clients({self._cls.__name__}, base_url={self._base_url!r})"


def _close_thread_session() -> None:
    """Close the HTTP session the sync SDK keeps for this thread.

    The sync SDK keeps one ``requests`` session per thread and never closes it; each request of
    this scorer runs on a thread of its own (the deadline's worker), which ends with the request,
    so the session would be dropped with its socket open. It is closed here, in that thread,
    when the request is done: the scorer owns what its requests open.
    """
    requestor = sys.modules.get("voyageai.api_resources.api_requestor")
    context: Any = getattr(requestor, "_thread_context", None)
    session = getattr(context, "session", None)
    shared = getattr(sys.modules.get("voyageai"), "requestssession", None)
    if session is None or session is shared:
        return  # none made, or the user's own session (voyageai.requestssession): theirs
    del context.session
    with contextlib.suppress(Exception):
        session.close()


def _transport_error(exc: Exception) -> TransientError | None:
    """What the SDK lets through from its transports unwrapped: aiohttp's errors on the async
    client (a body cut short: ``ClientPayloadError``; a dropped server), requests' on the sync."""
    if isinstance(exc, asyncio.TimeoutError):
        return TimedOutError("VoyageScorer: the request timed out")
    for module, base in (("aiohttp", "ClientError"), ("requests", "RequestException")):
        transport = sys.modules.get(module)
        if transport is not None and isinstance(exc, getattr(transport, base)):
            detail = scrub(f"{type(exc).__name__}: {exc}")[:300]
            return ConnectionFailedError(f"VoyageScorer: connection failed ({detail})")
    return None


def _malformed(exc: Exception) -> TransientError:
    return MalformedResponseError(
        f"VoyageScorer: malformed rerank response: the SDK could not read its results "
        f"({type(exc).__name__}: {exc})",
    )
