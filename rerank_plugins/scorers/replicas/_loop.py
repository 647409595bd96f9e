"""The private event loop thread on which a replica set's sync calls run."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from rerank_plugins._exceptions import TimedOutError
from rerank_plugins.scorers.hosted import HostedScorer

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    """The private event loop the sync path runs on (started on first use)."""

    def __init__(self, scorers: Sequence[HostedScorer[Any, Any]]) -> None:
        self._scorers = list(scorers)
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="rerank-plugins-replicas", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def run(self, coro: Coroutine[Any, Any, T], left: float | None) -> T:
        """Run ``coro`` on the loop and wait for it, at most ``left`` seconds and a grace."""
        future = asyncio.run_coroutine_threadsafe(coro, self._started())
        try:
            # The coroutine keeps the deadline itself; the grace only covers its cancellation.
            return future.result(None if left is None else left + 1.0)
        except TimeoutError as exc:
            future.cancel()
            raise TimedOutError("ReplicaScorer: the replicas outran the deadline") from exc
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        """Close the clients made on the loop, then stop the loop and its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def release() -> None:
            for scorer in self._scorers:
                await scorer.aclose()
            await loop.shutdown_asyncgens()

        try:
            asyncio.run_coroutine_threadsafe(release(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
