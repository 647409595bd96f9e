"""Who owns a hosted scorer's SDK clients, and how each SDK's client is closed."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Any, Generic, TypeVar

__all__ = ["PerLoop", "close_async_client", "close_quietly", "close_sync_client"]

A = TypeVar("A")


class PerLoop(Generic[A]):
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


def close_quietly(client: Any) -> None:
    """The finaliser of a dropped scorer's sync client (at garbage collection or exit)."""
    with contextlib.suppress(Exception):
        close_sync_client(client)
