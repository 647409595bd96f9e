"""The base of the hosted scorers (Cohere, Voyage, TEI): :class:`HostedScorer`.

It resolves the API key (argument or environment, missing →
:class:`~rerank_plugins.AuthenticationError` at once), keeps it out of every ``repr``, creates the
sync client lazily and one async client per event loop (:mod:`._clients`), turns the core's time
left into the request timeout, and sends every foreign exception through one translation
boundary (:mod:`._boundary`).

Requests above the provider's document limit are split by the core, not here: each scorer sets
``unit_size`` to the limit and ``max_concurrency`` above one, so the core's planner cuts the texts
into requests it runs concurrently, and each request's results come back through
:func:`~rerank_plugins.scorers.hosted.scores_by_index`.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar, cast

from rerank_plugins._checks import check_int, check_number
from rerank_plugins._deadline import run_with_deadline
from rerank_plugins._exceptions import ConfigurationError, RerankError
from rerank_plugins._http_errors import raise_translated
from rerank_plugins._scorer import Normalization, Scorer, UnitScores
from rerank_plugins.scorers.hosted._boundary import (
    Secret,
    body_message,
    env_hint,
    request_timeout,
    resolve_api_key,
    status_error,
    transport_error,
)
from rerank_plugins.scorers.hosted._clients import PerLoop, close_quietly

__all__ = ["HostedScorer"]

C = TypeVar("C")
A = TypeVar("A")

_DEADLINE_GRACE_S = 0.02  # lets the client's own timeout speak first when it fires on time
# The constructor arguments every hosted scorer takes; the base reads and checks them.
_COMMON = ("model", "api_key", "base_url", "timeout", "max_retries", "max_concurrency", "unit_size")


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

    Options every hosted scorer takes (each subclass documents its own besides these):
        timeout: The longest one request may take, in seconds (the budget's time left, if
            shorter, wins).
        max_retries: Retries of a failed request by the core, within the budget.
        max_concurrency: Requests in flight at once within one call.
        calibration: Maps the scores to probabilities of relevance (see
            :class:`~rerank_plugins.Scorer`); ``None`` for none.

    Raises:
        AuthenticationError: no key given or found in the environment (where one is required).
        MissingDependencyError: the provider's extra (``cohere``, ``voyage``, ``tei``) is not
            installed (on first use).
    """

    normalization: Normalization = Normalization.IDENTITY
    env_vars: ClassVar[tuple[str, ...]] = ()
    key_required: ClassVar[bool] = True

    def __init__(self, options: Mapping[str, Any]) -> None:
        """Read and check the common options from ``options``: a subclass passes its
        constructor's arguments (``locals()``), so each option is declared once, in its
        signature, and checked once, here."""
        who = type(self).__name__
        model, api_key, base_url, timeout, max_retries, max_concurrency, unit_size = (
            options[name] for name in _COMMON
        )
        if not isinstance(model, str) or not model.strip():
            raise ConfigurationError(f"{who} needs a model name, got {model!r}.")
        if base_url is not None and (not isinstance(base_url, str) or "://" not in base_url):
            raise ConfigurationError(
                f"{who} got base_url={base_url!r}; pass a full URL such as "
                f"'http://127.0.0.1:8080', or None for the provider's endpoint."
            )
        self._model = model
        self._secret = resolve_api_key(api_key, self.env_vars, who=who, required=self.key_required)
        self.base_url = None if base_url is None else base_url.rstrip("/")
        self.timeout = float(cast(float, check_number(who, "timeout", timeout, above=0)))
        self.max_retries = cast(int, check_int(who, "max_retries", max_retries, 0))
        self.max_concurrency = cast(int, check_int(who, "max_concurrency", max_concurrency))
        self.unit_size = cast(int, check_int(who, "unit_size", unit_size))
        self._client_lock = threading.Lock()
        self._client: C | None = None
        self._client_finalizer: weakref.finalize[Any, Any] | None = None
        self._aclients: PerLoop[A] = PerLoop()

    @property
    def model(self) -> str:
        return self._model

    @property
    def secret(self) -> Secret | None:
        """The API key this scorer sends, as a :class:`Secret` (``None``: a server without
        auth); ``secret.get()`` reads it, e.g. to find its requests in a test server's log."""
        return self._secret

    def __repr__(self) -> str:
        where = "" if self.base_url is None else f", base_url={self.base_url!r}"
        return f"{type(self).__name__}(model={self._model!r}{where})"

    @property
    def key_hint(self) -> str:
        """How to provide a key, for error messages."""
        return f"pass api_key=... or set {env_hint(self.env_vars)}"

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

    def _sync_client(self) -> C:
        with self._client_lock:
            if self._client is None:
                client = self._new_client()
                # Released with the scorer if nobody closes it: the finaliser holds the client,
                # never the scorer.
                self._client_finalizer = weakref.finalize(self, close_quietly, client)
                self._client = client
            return self._client

    async def _async_client(self) -> A:
        return await self._aclients.acquire(self._new_async_client)

    async def async_client(self) -> A:
        """The running event loop's SDK client, made on first use and owned by the scorer
        (for code that needs the SDK itself; the scorer closes it, never the caller)."""
        return await self._async_client()

    @property
    def open_clients(self) -> dict[str, int]:
        """How many clients the scorer holds open now: ``{"sync": 0 or 1, "async": one per
        event loop}`` (what :meth:`close` and :meth:`aclose` release)."""
        with self._client_lock:
            sync = int(self._client is not None)
        return {"sync": sync, "async": len(self._aclients)}

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
