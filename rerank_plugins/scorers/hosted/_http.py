"""What the hosted scorers (Cohere, Voyage, TEI) share, written once.

* :class:`HostedScorer`: the base of the three. It resolves the API key (argument or environment,
  missing → :class:`~rerank_plugins.AuthenticationError` at once), keeps it out of every ``repr``,
  creates the sync client lazily and one async client per event loop, turns the core's time left
  into the request timeout, and sends every foreign exception through one translation boundary.
* :func:`status_error`: an HTTP status and the server's message → the package's error, by the one
  status table of :mod:`rerank_plugins._http_errors` (401/403/498 →
  :class:`~rerank_plugins.AuthenticationError`, 408/409/424/429/5xx →
  :class:`~rerank_plugins.TransientError` carrying ``Retry-After``, other 4xx →
  :class:`~rerank_plugins.RequestRejectedError`).
* :func:`scores_by_index`: a provider's ``[{index, score}]`` list → one score per text, mapped by
  ``index`` (never by position), with every malformed case (missing, out of range, duplicate
  or absent index, a non-numeric score) a ``malformed_response`` :class:`TransientError`.

Requests above the provider's document limit are split by the core, not here: each scorer sets
``unit_size`` to the limit and ``max_concurrency`` above one, so the core's planner cuts the texts
into requests it runs concurrently, and each request's results come back through
:func:`scores_by_index`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import threading
import weakref
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from rerank_plugins._deadline import run_with_deadline
from rerank_plugins._exceptions import (
    AuthenticationError,
    ConfigurationError,
    ConnectionFailedError,
    MalformedResponseError,
    RequestRejectedError,
    RerankError,
    TimedOutError,
    TransientError,
    transient_for_status,
)
from rerank_plugins._http_errors import raise_translated, retry_after_seconds, status_class
from rerank_plugins._http_errors import scrub as scrub_text
from rerank_plugins._scorer import Normalization, Scorer, UnitScores

__all__ = [
    "HostedScorer",
    "Secret",
    "resolve_api_key",
    "retry_after_seconds",
    "scores_by_index",
    "status_error",
]

C = TypeVar("C")
A = TypeVar("A")

_DEADLINE_GRACE_S = 0.02  # lets the client's own timeout speak first when it fires on time
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
                f"{_env_hint(env_vars)}."
            )
        return Secret(api_key.strip())
    for var in env_vars:
        value = os.environ.get(var, "").strip()
        if value:
            return Secret(value)
    if not required:
        return None
    raise AuthenticationError(
        f"{who} needs an API key: pass api_key=... or set {_env_hint(env_vars)}."
    )


def _env_hint(env_vars: Sequence[str]) -> str:
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
    kind = status_class(status)
    if kind is AuthenticationError:
        return AuthenticationError(
            f"{who}: the server rejected the API key (HTTP {status}: {detail}); {key_hint} "
            f"with a valid key for this endpoint."
        )
    if kind is TransientError:
        wait = retry_after_seconds(headers)
        said = "" if wait is None else f", Retry-After {wait:g}s"
        return transient_for_status(
            status, f"{who}: HTTP {status} from the rerank endpoint{said}: {detail}", wait
        )
    if status == 413:
        fix = "send fewer or shorter texts per request (lower batch_size / unit_size)"
    elif status == 404:
        fix = f"check base_url and the model name ({model!r})"
    else:
        fix = f"check the model name ({model!r}) and the scorer's options"
    return RequestRejectedError(
        f"{who}: the server rejected the request (HTTP {status}: {detail}); {fix}."
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
        if isinstance(index, bool) or not isinstance(index, int):
            raise _malformed(who, f"a result has index {index!r}, not an integer")
        if not 0 <= index < n:
            raise _malformed(who, f"a result has index {index}, outside 0..{n - 1}")
        if out[index] is not None:
            raise _malformed(who, f"index {index} appears twice in the results")
        if (
            isinstance(score, bool)
            or not isinstance(score, (int, float))
            or not math.isfinite(score)
        ):
            raise _malformed(who, f"the score of index {index} is {score!r}, not a finite number")
        out[index] = float(score)
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


class _PerLoop(Generic[A]):
    """One async client per event loop, each with exactly one owner that closes it.

    An async client is bound to the loop that first used it, and holds that loop (through its
    connections), so it cannot be keyed weakly on the loop: the entry would never die. Instead
    each client, when it is created, gets its own *releaser*: a small async generator started in
    that loop, which closes that client, and only that client, when it is finalised. So each
    client is closed exactly once, by whichever comes first:

    - :meth:`aclose_loop` (the scorer's ``aclose()`` / ``async with``), at once;
    - the loop's end: ``loop.shutdown_asyncgens()`` (``asyncio.run`` calls it before closing
      the loop) finalises the releaser, so connections close on their own loop;
    - the scorer being dropped while the loop runs: the releaser is collected with it, and the
      loop finalises it.

    A client made after ``aclose()`` on the same loop gets a releaser of its own, so it is
    owned and closed like the first. A releaser never closes another client than its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[asyncio.AbstractEventLoop, tuple[A, Any]] = {}

    async def acquire(self, factory: Any) -> A:
        """The running loop's client, made (and given its releaser) on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            for old in [other for other in self._clients if other.is_closed()]:
                self._clients.pop(old, None)  # its loop ended without finalising it
            entry = self._clients.get(loop)
            if entry is not None:
                return entry[0]
            client: A = factory()
            releaser = self._release(loop, client)
            self._clients[loop] = (client, releaser)  # held: the loop keeps a weak reference
        await releaser.__anext__()  # registers it with the loop (runs to its first yield)
        return client

    async def _release(self, loop: asyncio.AbstractEventLoop, client: A) -> Any:
        try:
            yield None
        finally:
            with self._lock:
                entry = self._clients.get(loop)
                if entry is not None and entry[0] is client:
                    del self._clients[loop]
            await close_async_client(client)

    async def aclose_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Close ``loop``'s client now (a later call on the loop makes a new one)."""
        with self._lock:
            entry = self._clients.pop(loop, None)
        if entry is not None:
            await entry[1].aclose()  # runs the releaser's finally: closes exactly this client

    def drop_closed(self) -> None:
        """Forget the clients of loops that have closed."""
        with self._lock:
            for old in [other for other in self._clients if other.is_closed()]:
                self._clients.pop(old, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._clients)


async def close_async_client(client: Any) -> None:
    """Close an SDK's async client: ``aclose()`` or ``close()`` where it has one, else the httpx
    client inside (Cohere's ``AsyncClientV2`` keeps one in its client wrapper)."""
    for name in ("aclose", "close"):
        method = getattr(client, name, None)
        if callable(method):
            out = method()
            if asyncio.iscoroutine(out) or isinstance(out, asyncio.Future):
                await out
            return
    inner = getattr(getattr(client, "_client_wrapper", None), "httpx_client", None)
    inner = getattr(inner, "httpx_client", inner)
    if inner is not None and inner is not client:
        await close_async_client(inner)


def close_sync_client(client: Any) -> None:
    """Close an SDK's sync client: ``close()`` where it has one; else its context manager's
    ``__exit__`` (Cohere's ``ClientV2`` has no ``close()``: its ``__exit__`` closes the httpx
    client inside); else the httpx client in its client wrapper."""
    if client is None:
        return
    closer = getattr(client, "close", None)
    if callable(closer):
        closer()
        return
    if callable(getattr(type(client), "__exit__", None)):
        client.__exit__(None, None, None)
        return
    inner = getattr(getattr(client, "_client_wrapper", None), "httpx_client", None)
    inner = getattr(inner, "httpx_client", inner)
    if inner is not None and inner is not client:
        close_sync_client(inner)


def _close_quietly(client: Any) -> None:
    """The finaliser of a dropped scorer's sync client (at garbage collection or exit)."""
    with contextlib.suppress(Exception):
        close_sync_client(client)


class HostedScorer(Scorer, Generic[C, A]):
    """Base of the scorers that call a rerank endpoint over HTTP.

    Subclasses set :attr:`backend`, :attr:`env_vars`, implement :meth:`_new_client`,
    :meth:`_new_async_client`, :meth:`_request`, :meth:`_arequest` and :meth:`_translate`.
    Relevance comes from the endpoint as a ``[0, 1]`` score (``Normalization.IDENTITY``).

    Ownership: the scorer creates and owns its clients: one sync client (shared by every
    thread, made on first use) and one async client per event loop. It closes them:

    - the sync client in :meth:`close`, at the end of a ``with`` block, in :meth:`aclose`, or,
      if none of these ran, when the scorer is garbage collected (never an unclosed socket);
    - an event loop's async client in :meth:`aclose` / ``async with`` on that loop, else when
      the loop ends (``asyncio.run`` finalises it before closing the loop), else when the
      scorer is dropped while the loop runs.

    After closing, the scorer still works: the next call makes a new client, owned the same way.
    Copies (``copy.deepcopy``, pydantic's ``model_copy(deep=True)``) share the scorer and its
    clients; nothing is closed twice.
    """

    normalization: Normalization = Normalization.IDENTITY
    env_vars: ClassVar[tuple[str, ...]] = ()
    key_required: ClassVar[bool] = True

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: float,
        max_retries: int,
        max_concurrency: int,
        unit_size: int,
    ) -> None:
        who = type(self).__name__
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"{who} needs a model name, got {model!r}.")
        _check_positive(who, "timeout", timeout)
        _check_int(who, "max_retries", max_retries, minimum=0)
        _check_int(who, "max_concurrency", max_concurrency, minimum=1)
        _check_int(who, "unit_size", unit_size, minimum=1)
        if base_url is not None and (not isinstance(base_url, str) or "://" not in base_url):
            raise ConfigurationError(
                f"{who} got base_url={base_url!r}; pass a full URL such as "
                f"'http://127.0.0.1:8080', or None for the provider's endpoint."
            )
        self._model = model
        self._secret = resolve_api_key(api_key, self.env_vars, who=who, required=self.key_required)
        self.base_url = None if base_url is None else base_url.rstrip("/")
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.max_concurrency = max_concurrency
        self.unit_size = unit_size
        self._client_lock = threading.Lock()
        self._client: C | None = None
        self._client_finalizer: weakref.finalize[Any, Any] | None = None
        self._aclients: _PerLoop[A] = _PerLoop()

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        where = "" if self.base_url is None else f", base_url={self.base_url!r}"
        return f"{type(self).__name__}(model={self._model!r}{where})"

    @property
    def key_hint(self) -> str:
        """How to provide a key, for error messages."""
        return f"pass api_key=... or set {_env_hint(self.env_vars)}"

    # -- clients -------------------------------------------------------------------------
    def prepare(self) -> None:
        self._sync_client()

    async def aprepare(self) -> None:
        await self._async_client()

    def close(self) -> None:
        """Close the sync client now (a later call makes a new one). An event loop's async
        client closes with :meth:`aclose` on that loop, or when the loop ends."""
        with self._client_lock:
            finalizer, self._client_finalizer = self._client_finalizer, None
            self._client = None
        self._aclients.drop_closed()
        if finalizer is not None:
            finalizer()  # closes the client, once (a finaliser runs at most once)

    async def aclose(self) -> None:
        """Close the running event loop's async client and the sync client now (a later call
        makes new ones)."""
        await self._aclients.aclose_loop(asyncio.get_running_loop())
        self.close()

    def __enter__(self) -> HostedScorer[C, A]:
        return self

    async def __aenter__(self) -> HostedScorer[C, A]:
        return self

    def _sync_client(self) -> C:
        with self._client_lock:
            if self._client is None:
                client = self._new_client()
                # Released with the scorer if nobody closes it: the finaliser holds the client,
                # never the scorer.
                self._client_finalizer = weakref.finalize(self, _close_quietly, client)
                self._client = client
            return self._client

    async def _async_client(self) -> A:
        return await self._aclients.acquire(self._new_async_client)

    @abstractmethod
    def _new_client(self) -> C:
        """A sync client with the SDK's own retries off."""

    @abstractmethod
    def _new_async_client(self) -> A:
        """An async client for the running event loop, with the SDK's own retries off."""

    # -- requests ------------------------------------------------------------------------
    @abstractmethod
    def _request(self, client: C, query: str, texts: Sequence[str], timeout: float) -> UnitScores:
        """Send one request and map its results by index."""

    @abstractmethod
    async def _arequest(
        self, client: A, query: str, texts: Sequence[str], timeout: float
    ) -> UnitScores:
        """Async twin of :meth:`_request`."""

    @abstractmethod
    def _translate(self, exc: Exception) -> RerankError | None:
        """The package's error for a foreign exception, or ``None`` if it is not ours to map."""

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        client = self._sync_client()
        limit = request_timeout(timeout, self.timeout)
        late = (
            f"{type(self).__name__}: no complete response within {limit:.2f}s (the request "
            f"timeout bounds each read, so a slowly sent body is cut off here)"
        )
        try:
            # The clients' timeouts are per read: the deadline of the whole request is kept here.
            return run_with_deadline(
                lambda: self._request(client, query, texts, limit), limit + _DEADLINE_GRACE_S, late
            )
        except RerankError:
            raise
        except Exception as exc:
            mapped = self._mapped(exc)
            if mapped is exc:
                raise  # not a failure of the endpoint: let the original through untouched
            raise_translated(mapped, exc, self._secret_text())

    async def ascore_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores:
        client = await self._async_client()
        try:
            return await self._arequest(
                client, query, texts, request_timeout(timeout, self.timeout)
            )
        except RerankError:
            raise
        except Exception as exc:
            mapped = self._mapped(exc)
            if mapped is exc:
                raise
            raise_translated(mapped, exc, self._secret_text())

    def _secret_text(self) -> str | None:
        return None if self._secret is None else self._secret.get()

    def _mapped(self, exc: Exception) -> Exception:
        mapped = self._translate(exc)
        if mapped is not None:
            return mapped
        transport = transport_error(type(self).__name__, exc)
        return exc if transport is None else transport

    def status_error(
        self, status: int, body: object, headers: Mapping[str, Any] | None
    ) -> RerankError:
        """:func:`status_error` with this scorer's name, key hint, model and key."""
        return status_error(
            type(self).__name__,
            status,
            body_message(body),
            headers=headers,
            key_hint=self.key_hint,
            model=self._model,
            secret=self._secret,
        )


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


def _check_positive(who: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigurationError(f"{who} got {name}={value!r}; pass a positive number of seconds.")


def _check_int(who: str, name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigurationError(f"{who} got {name}={value!r}; pass an integer >= {minimum}.")
