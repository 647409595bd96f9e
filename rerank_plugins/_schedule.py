"""How a call's units run: the scorer made ready in time, then each unit, sync or async.

A call (:class:`~rerank_plugins._call.Call`) runs in three steps: :func:`ready_in_time` prepares
the scorer (under a budget, only as long as the budget lasts), the call plans its units (one
call into the scorer, :meth:`~rerank_plugins.Scorer.plan`), and :func:`run_units` /
:func:`arun_units` run them, up to the scorer's ``max_concurrency`` at once, each part of a unit
admitted by the call and retried after a transient failure while the time left allows. The
scorer hears the deadline as ``timeout``, the seconds left when the part starts.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any

from rerank_plugins._call import Call
from rerank_plugins._exceptions import TimedOutError, TransientError

__all__ = ["arun_units", "aready_in_time", "ready_in_time", "run_units"]


def ready_in_time(call: Call) -> bool:
    """Prepare the scorer; under a budget, only as long as the budget lasts.

    A scorer that still has a model to load loads it in the background
    (:meth:`~rerank_plugins.Scorer.warm`) while the call waits for it up to its deadline: loading
    is part of the call, so a cold first call returns at its deadline, in retrieval order
    (``stats.loading``), rather than after the load. Without a budget the call loads it, as long
    as that takes.
    """
    scorer, left = call.scorer, call.time_left()
    if scorer.ready or left is None:
        scorer.prepare()
        return True
    started = time.monotonic()
    future = scorer.warm()
    wait([future], timeout=_load_wait(left))
    return _loaded(call, started, future)


async def aready_in_time(call: Call) -> bool:
    """Async twin of :func:`ready_in_time`."""
    scorer, left = call.scorer, call.time_left()
    if scorer.ready or left is None:
        await scorer.aprepare()
        return True
    started = time.monotonic()
    future = asyncio.wrap_future(scorer.warm())
    await asyncio.wait([future], timeout=_load_wait(left))  # a timeout leaves it loading
    return _loaded(call, started, future)


def _loaded(call: Call, started: float, future: Future[None] | asyncio.Future[None]) -> bool:
    """Record the wait for a warm-up; a setup error reaches the caller, as from ``prepare``."""
    call.waited_for_load(started, done=future.done())
    if future.done():
        future.result()
    return future.done()


def _load_wait(left: float) -> float:
    """How long a call with ``left`` seconds waits for a loading scorer: the time left less a
    guard of a tenth of it (at most 50 ms). The loading thread imports and builds a model, and
    holds the GIL for long stretches while it does: a waiter woken at the deadline gets it back
    late, so it is woken a little early. A model ready in the guard's last moments would leave no
    time to score anyway."""
    return max(0.0, left - min(0.1 * left, 0.05))


def run_units(call: Call) -> None:
    """Run the call's planned units: in the caller's thread, or on up to ``max_concurrency``
    worker threads of the call's own (stopped when it returns)."""
    workers = min(call.scorer.max_concurrency, len(call.pending))
    if workers <= 1:
        for unit in call.pending:
            _run_unit(call, unit)
        return
    pool = ThreadPoolExecutor(max_workers=workers)
    futures: list[Future[Any]] = []
    try:
        # Each worker runs in a copy of the caller's context, so tracing that lives in
        # contextvars (LangChain run trees, LlamaIndex spans) follows the unit.
        futures = [
            pool.submit(contextvars.copy_context().run, _run_unit, call, unit)
            for unit in call.pending
        ]
        # The first error wins at once: a 401 on one request is not held back until its slow
        # siblings finish (they run on, and their results are dropped).
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            if future.done() and future.exception() is not None:
                future.result()
    except BaseException:
        # One unit raised (on_error="raise", a configuration error): no unit that has not
        # started will start, and the caller hears at once.
        call.stopped = True
        for future in futures:
            future.cancel()
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


async def arun_units(call: Call) -> None:
    """Async twin of :func:`run_units`: a task per unit, ``max_concurrency`` at a time."""
    limit = asyncio.Semaphore(max(1, call.scorer.max_concurrency))

    async def run(unit: list[int]) -> None:
        async with limit:
            await _arun_unit(call, unit)

    tasks = [asyncio.ensure_future(run(unit)) for unit in call.pending]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


class _Parts:
    """One unit's way through a call: the part the time left admits, its retries, the rest.

    A part that succeeds is recorded and the rest of the unit comes next; a transient failure
    is retried after :meth:`failed`'s delay while the call's rules allow (``None``: give up).
    """

    def __init__(self, call: Call, unit: list[int]) -> None:
        self.call, self.todo, self.attempt, self.started = call, unit, 0, 0.0

    def next(self) -> list[int]:
        """The next part to score (empty: the unit is done, or the time left admits nothing)."""
        part = self.call.admit(self.todo) if self.todo else []
        self.started = time.monotonic()
        return part

    def succeeded(self, part: list[int], out: object) -> None:
        self.call.succeeded(part, out, time.monotonic() - self.started)
        self.todo, self.attempt = self.todo[len(part) :], 0

    def failed(self, part: list[int], exc: TransientError) -> float | None:
        delay = self.call.failed(part, exc, self.attempt, time.monotonic() - self.started)
        self.attempt += 1
        return delay


def _run_unit(call: Call, unit: list[int]) -> None:
    parts = _Parts(call, unit)
    try:
        while part := parts.next():
            try:
                out = call.scorer.score_unit(
                    call.query, call.unit_texts(part), timeout=call.time_left()
                )
            except TransientError as exc:
                delay = parts.failed(part, exc)
                if delay is None:
                    return
                time.sleep(delay)
                continue
            parts.succeeded(part, out)
    except BaseException:
        call.stopped = True  # at once, from the failing worker: no further unit starts
        raise


async def _arun_unit(call: Call, unit: list[int]) -> None:
    parts = _Parts(call, unit)
    while part := parts.next():
        left = call.time_left()
        try:
            coro = call.scorer.ascore_unit(call.query, call.unit_texts(part), timeout=left)
            try:
                out = await asyncio.wait_for(coro, left) if left is not None else await coro
            except asyncio.TimeoutError as exc:
                raise TimedOutError("the unit outran the budget") from exc
        except TransientError as exc:
            delay = parts.failed(part, exc)
            if delay is None:
                return
            await asyncio.sleep(delay)
            continue
        parts.succeeded(part, out)
