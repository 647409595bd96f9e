"""One deadline per call, and a blocking call that cannot outrun it.

:class:`Deadline` is the budget's one authority: the core makes one per call (from ``budget_ms``)
and reads it before each unit. The deadline reaches a scorer on one channel only: the
``timeout`` argument of ``score_unit`` (the seconds left when the unit starts), never a context
variable, so that a reader following ``budget_ms`` from an adapter finds it in every signature
on the way down, and a scorer called directly behaves as under the core. Whatever runs inside
the scorer and decides whether more work still fits (the local model's micro-batcher before a
forward pass, the LLM judge before another LLM call, an HTTP request's timeout) makes its
deadline with ``Deadline.after(timeout)`` where it receives the timeout, asks it the same two
questions (how much time is left; does work expected to cost this much still fit), and passes
``deadline.left()`` on as the ``timeout`` of what it calls.

:func:`run_with_deadline`, for the sync paths:

HTTP clients and LLM SDKs take a timeout per read, not per request: a server that sends its body
a byte at a time keeps every read short and the request alive long past the caller's budget. The
sync paths therefore run such a call on a worker thread and wait for it at most until the
deadline; a late call is abandoned (its own timeout ends it soon after, and its result is
dropped) and the caller gets a :class:`~rerank_plugins.TimedOutError` on time. Async paths do not
need this: ``asyncio.wait_for`` cancels the request itself.

:func:`run_sync`, for sync code that must await something (an async LLM callable): it works
wherever the caller is, including inside a running event loop (a Jupyter cell, an async web
handler that calls sync code), where ``asyncio.run`` would refuse.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from rerank_plugins._checks import is_number
from rerank_plugins._exceptions import ConfigurationError, TimedOutError

__all__ = [
    "Deadline",
    "current",
    "query_deadline",
    "run_sync",
    "run_with_deadline",
    "ttft_budget",
]

T = TypeVar("T")


class Deadline:
    """The end of one call's budget (``time.monotonic()`` seconds), or none.

    >>> Deadline.after(None).left() is None
    True
    >>> d = Deadline.after(10.0)
    >>> d.fits(1.0) and not d.fits(30.0) and not d.expired()
    True
    """

    __slots__ = ("end",)

    def __init__(self, end: float | None) -> None:
        self.end = end

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """A deadline ``seconds`` from now (``None``: no deadline)."""
        return cls(None if seconds is None else time.monotonic() + max(0.0, seconds))

    def left(self) -> float | None:
        """Seconds left (never negative), or ``None`` without a deadline."""
        return None if self.end is None else max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end

    def fits(self, expected: float, *, margin: float = 1.0) -> bool:
        """Whether work expected to take ``expected`` seconds, times ``margin`` (room for the
        variance of what is measured), ends before the deadline."""
        left = self.left()
        return left is None or (left > 0 and expected * margin <= left)

    def sort_key(self) -> float:
        """Earliest deadline first; no deadline last."""
        return math.inf if self.end is None else self.end

    def __repr__(self) -> str:
        left = self.left()
        return "Deadline(none)" if left is None else f"Deadline({left:.3f}s left)"


_QUERY: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "rerank_plugins_query_deadline", default=None
)


@contextlib.contextmanager
def ttft_budget(target_ms: float, *, reserve_ms: float = 0.0) -> Iterator[Deadline]:
    """A per-query time-to-first-token target: every rerank inside gets what remains of it.

    The clock starts when the ``with`` starts, where the query starts: embedding it, the vector
    search and anything else before the rerank stage spend the target first, and the rerank
    stage's budget is what is left, less ``reserve_ms`` kept for the LLM to read its prompt and
    produce its first token. A slow retrieval leaves the reranker less time, never the user:
    what does not fit stays in retrieval order. A reranker's own ``budget_ms`` still applies
    (the earlier of the two ends wins).

    It is a context variable, so it reaches the rerank stage inside any framework that runs the
    query in this thread or task, sync or async: a LlamaIndex query engine (``query`` /
    ``aquery``), a LangChain chain or retriever (``invoke`` / ``ainvoke``).

    Args:
        target_ms: Milliseconds from now to the first token.
        reserve_ms: Milliseconds of the target kept for the LLM's time to its first token.

    Raises:
        ConfigurationError: a negative or non-numeric value, or ``reserve_ms`` above
            ``target_ms``.

    Example:
        >>> from rerank_plugins import Reranker, ttft_budget
        >>> from rerank_plugins.testing import KeywordScorer
        >>> with ttft_budget(800, reserve_ms=300):
        ...     stats = Reranker(KeywordScorer()).rerank("cats", ["dogs", "cats"]).stats
        >>> 0 < stats.budget_ms <= 500
        True
    """
    for name, value in (("target_ms", target_ms), ("reserve_ms", reserve_ms)):
        if not is_number(value) or not (math.isfinite(value) and value >= 0):
            raise ConfigurationError(
                f"ttft_budget {name} must be a non-negative number of milliseconds, got "
                f"{value!r}; pass e.g. ttft_budget(800, reserve_ms=250)."
            )
    if reserve_ms > target_ms:
        raise ConfigurationError(
            f"ttft_budget reserve_ms={reserve_ms!r} is larger than target_ms={target_ms!r}, which "
            f"would leave the rerank stage no time at all; pass a reserve below the target, e.g. "
            f"ttft_budget({target_ms!r}, reserve_ms={target_ms / 3:g})."
        )
    deadline = Deadline.after((target_ms - reserve_ms) / 1000.0)
    outer = _QUERY.get()
    if outer is not None and outer.end is not None and deadline.end is not None:
        deadline = Deadline(min(outer.end, deadline.end))  # the earlier end wins
    token = _QUERY.set(deadline)
    try:
        yield deadline
    finally:
        _QUERY.reset(token)


def query_deadline() -> Deadline | None:
    """The deadline of the :func:`ttft_budget` in effect here, if any: an LLM callable or a
    retriever that runs inside the block can read it to cut its own work short.

    Example:
        >>> from rerank_plugins import query_deadline, ttft_budget
        >>> query_deadline() is None
        True
        >>> with ttft_budget(800):
        ...     query_deadline().left() <= 0.8
        True
    """
    return _QUERY.get()


def current(timeout: float | None) -> Deadline:
    """``Deadline.after(timeout)``: kept for scorers written against earlier versions, which read
    the call's deadline here (the core no longer sets one aside: ``timeout`` is its one channel).
    """
    return Deadline.after(timeout)


def run_with_deadline(fn: Callable[[], T], timeout: float | None, late: str) -> T:
    """``fn()``, or :class:`TimedOutError` with message ``late`` once ``timeout`` seconds pass.

    The caller's context variables (LangChain run trees, LlamaIndex spans, OpenTelemetry) go
    with the call. ``timeout=None`` runs ``fn`` in the caller's thread.

    >>> run_with_deadline(lambda: 42, 1.0, "too slow")
    42
    """
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    context = contextvars.copy_context()
    worker = threading.Thread(
        target=context.run, args=(target,), name="rerank-plugins-deadline", daemon=True
    )
    worker.start()
    worker.join(max(0.0, timeout))
    if worker.is_alive():
        raise TimedOutError(late)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def run_sync(awaitable: Awaitable[T]) -> T:
    """Await ``awaitable`` from sync code and return its result, wherever the caller runs.

    Without an event loop running in this thread: ``asyncio.run``. With one (a Jupyter cell, an
    async web handler calling sync code), ``asyncio.run`` would raise, and the caller's loop
    cannot be re-entered: the awaitable runs on a helper thread with its own loop, which closes
    when it is done (its async generators and clients are finalised there), and the caller's
    thread waits for it, as a sync call waits. The caller's context variables go with it.

    >>> async def answer() -> int:
    ...     return 42
    >>> run_sync(answer())
    42
    """

    async def main() -> T:
        return await awaitable

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(main())
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    context = contextvars.copy_context()
    worker = threading.Thread(target=context.run, args=(target,), name="rerank-plugins-sync")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
