"""Micro-batching: pairs from concurrent calls share forward passes on one model.

Every unit a :class:`~rerank_plugins.CrossEncoderScorer` scores becomes a *request* in one queue
per scorer. There is no background thread and no waiting window: a caller that finds a free
*lane* runs forward passes itself; callers that arrive while every lane is busy queue up, and
the next pass takes their pairs too (length-bucketed, under the token budget). A single caller
therefore pays nothing extra, while concurrent callers fill bigger, better-shaped passes, and
with several lanes (ONNX Runtime: one per core) keep every core busy.

Budgets: requests are served earliest deadline first; a request whose deadline passes before any
of its pairs started raises :class:`~rerank_plugins.TransientError` (``reason="timeout"``), which
the core turns into "budget ran out" (its candidates stay unscored). Like an HTTP client that
honours its timeout, a pass is not started for a request it is expected to overrun: it asks the
scorer's one :class:`~rerank_plugins._cost.CostModel` (the one the core's budget loop asks, in
the same unit of work: tokens) and teaches it each pass's padded tokens and time. Pairs that do
not fit come back as ``None``, unscored. A caller gives its lane back as soon as its own pairs
are taken, so no caller works for others past its own unit.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from rerank_plugins._cost import CostModel
from rerank_plugins._deadline import Deadline
from rerank_plugins._exceptions import TimedOutError
from rerank_plugins.scorers.local._batching import EncodedPair, plan_batches

__all__ = ["MicroBatcher"]

Planner = Callable[..., list[list[int]]]
"""``planner(lengths, *, max_tokens, max_size)``: positions grouped into passes."""

_ORDER = itertools.count()


@dataclass(eq=False)
class _Request:
    pairs: Sequence[EncodedPair]
    deadline: Deadline
    order: int = field(default_factory=lambda: next(_ORDER))
    scores: list[list[float] | None] = field(default_factory=list)
    todo: set[int] = field(default_factory=set)  # not taken by any pass yet
    pending: set[int] = field(default_factory=set)  # not finished yet
    error: BaseException | None = None
    relaxed: bool = False  # its refusal already relaxed the cost model once

    def __post_init__(self) -> None:
        self.scores = [None] * len(self.pairs)
        self.todo = set(range(len(self.pairs)))
        self.pending = set(range(len(self.pairs)))

    @property
    def started(self) -> bool:
        return len(self.todo) < len(self.pairs)

    @property
    def done(self) -> bool:
        return self.error is not None or not self.pending


class MicroBatcher:
    """Runs pairs from concurrent requests through ``forward`` in shared, bucketed passes.

    Args:
        forward: Runs one forward pass over a list of encoded pairs; returns one row of logits
            per pair. It must be safe to call from ``lanes`` threads at once.
        cost: The scorer's cost model, in tokens: asked before each pass, taught by each one
            (a fresh one when omitted).
        max_tokens: Token budget of one pass (pairs x longest pair).
        max_size: Most pairs in one pass.
        lanes: Passes that may run at the same time. A caller runs passes on its own thread and,
            while other lanes are free, hands the rest of its passes to helper threads (at most
            ``lanes - 1``, started on first need); concurrent callers share the lanes. Several
            passes at once keep every core busy where one pass alone cannot (small operators,
            memory stalls, a machine shared with others).
        pool_tokens: Most real tokens considered when planning one pass; requests beyond it
            (later deadlines) wait for a later pass, so an urgent request is never starved.
        planner: Groups pair lengths into passes (default
            :func:`~rerank_plugins.scorers.local._batching.plan_batches`); a benchmark passes
            another to compare.

    The batcher owns its helper threads (a pool started on first need); :meth:`close` stops
    them once their passes are done (the scorer that owns the batcher calls it).
    """

    def __init__(
        self,
        forward: Callable[[list[EncodedPair]], list[list[float]]],
        *,
        cost: CostModel | None = None,
        max_tokens: int,
        max_size: int,
        lanes: int = 1,
        pool_tokens: int | None = None,
        planner: Planner = plan_batches,
    ) -> None:
        self.forward = forward
        """The forward pass every pass runs (public: an engine is rebuilt around another)."""
        self.planner = planner
        self.cost = cost if cost is not None else CostModel()
        self.max_tokens = max_tokens
        self.max_size = max_size
        self.lanes = max(1, lanes)
        self.pool_tokens = pool_tokens if pool_tokens is not None else 4 * max_tokens
        self._cond = threading.Condition()
        self._queue: list[_Request] = []
        self._active = 0
        self._helpers: Executor | None = None
        self._running_work = 0  # padded tokens of the passes executing now, on every lane
        self.passes = 0
        """Forward passes run so far (all callers together)."""

    def close(self) -> None:
        """Stop the helper threads after the passes they run; a later request starts new ones."""
        with self._cond:
            helpers, self._helpers = self._helpers, None
        if helpers is not None:
            helpers.shutdown(wait=False)

    @property
    def _busy(self) -> bool:
        return self._active >= self.lanes

    def run(
        self, pairs: Sequence[EncodedPair], *, timeout: float | None
    ) -> list[list[float] | None]:
        """Score ``pairs`` (one request); blocks until done.

        Returns:
            One row of logits per pair; ``None`` for a pair whose pass was expected to end after
            the deadline, so it was never run (the caller leaves it unscored).

        Raises:
            TransientError: the deadline passed before the request's first pass started.
        """
        # The call's deadline, handed down as ``timeout``: every admission below asks it.
        req = _Request(pairs, Deadline.after(timeout))
        with self._cond:
            self._queue.append(req)
        while True:
            with self._cond:
                while not req.done and (self._busy or not req.todo):
                    self._wait(req)
                if req.done:
                    break
                self._active += 1
                self._recruit()
            try:
                self._lead(req)
            except BaseException as exc:
                with self._cond:
                    if req.error is None:
                        req.error = exc
                    if req in self._queue:
                        self._queue.remove(req)
                raise
        if req.error is not None:
            raise req.error
        return list(req.scores)

    def _recruit(self) -> None:
        """Put free lanes to work on queued pairs (called with the lock held, after the caller
        took its own lane): a lone call with many passes runs them on every lane."""
        if self.lanes == 1:
            return
        todo = sum(len(r.todo) for r in self._queue)
        helpers = min(self.lanes - self._active, max(0, todo - 1) // self.max_size)
        if helpers <= 0:
            return
        if self._helpers is None:
            from concurrent.futures import ThreadPoolExecutor

            self._helpers = ThreadPoolExecutor(self.lanes - 1, thread_name_prefix="rerank-lane")
        for _ in range(helpers):
            self._active += 1
            self._helpers.submit(self._help)

    def _help(self) -> None:
        """A helper lane: run passes while any request has pairs left, then give the lane back."""
        try:
            while True:
                with self._cond:
                    batch = self._next_batch() if any(r.todo for r in self._queue) else None
                if batch is None:
                    return
                # A failed pass has already been handed to the requests it carried (their
                # callers raise it); the helper only stops.
                with contextlib.suppress(BaseException):
                    self._execute(batch)
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _wait(self, req: _Request) -> None:
        """Wait for a free lane or for the request's pairs (called with the lock held)."""
        left = req.deadline.left()
        left = math.inf if left is None else left
        if not req.started and left <= 0:
            self._queue.remove(req)
            req.error = TimedOutError(
                "the unit's deadline passed while it waited for the shared model",
            )
            return
        self._cond.wait(None if math.isinf(left) or req.started else left)

    def _lead(self, own: _Request) -> None:
        """Run passes while ``own`` has pairs to take, then give the lane back."""
        try:
            while True:
                with self._cond:
                    if own.done or not own.todo:
                        break
                    batch = self._next_batch()
                self._execute(batch)
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def _next_batch(self) -> list[tuple[_Request, int]]:
        """The next pass: pool requests by deadline, bucket their untaken pairs by length."""
        pool: list[tuple[_Request, int]] = []
        tokens = 0
        for req in sorted(self._queue, key=lambda r: (r.deadline.sort_key(), r.order)):
            if pool and tokens >= self.pool_tokens:
                break
            for i in sorted(req.todo):
                pool.append((req, i))
                tokens += len(req.pairs[i])
        lengths = [len(req.pairs[i]) for req, i in pool]
        first = self.planner(lengths, max_tokens=self.max_tokens, max_size=self.max_size)[0]
        batch = [pool[j] for j in first]
        for req, i in batch:
            req.todo.discard(i)
        kept = self._within_deadlines(batch)
        if kept:  # running from now on, as far as the next pass planned is concerned
            self._running_work += max(len(req.pairs[i]) for req, i in kept) * len(kept)
        return kept

    def _within_deadlines(self, batch: list[tuple[_Request, int]]) -> list[tuple[_Request, int]]:
        """Cut the pass to the pairs every request in it expects to see finish in time.

        The same rule as an HTTP timeout, at the granularity of one pass: the pass keeps the
        longest leading run of its pairs whose expected time (the cost model's, for the pass's
        padded tokens, so long and short pairs are told apart) ends before the deadline of every
        request it carries. A pair left out goes back to its request for a later, smaller pass
        while it could still fit alone; one that cannot is never run and comes back as ``None``
        (unscored), with the rest of its request. A smaller pass that fits scores something
        where a whole one would overrun: with batched runtimes a full pass can cost more than a
        tight budget. A request refused before any of its pairs ran relaxes the cost model
        (:meth:`~rerank_plugins._cost.CostModel.relax`), so an estimate that only says "no"
        decays until a pass measures it again.
        """
        kept: list[tuple[_Request, int]] = []
        width = 0
        others = self._running_work
        # Nothing measured yet and a deadline to keep: the first pass is a quarter pass, so the
        # estimate is learned before a whole pass is staked on the deadline (a cold machine's
        # first full pass can outlast a tight budget by itself).
        first = self.cost.per_work is None and any(r.deadline.end is not None for r, _ in batch)
        for req, i in batch:
            wider = max(width, len(req.pairs[i]))
            if first and kept and wider * (len(kept) + 1) > self.max_tokens // 4:
                break
            work = _shared(wider * (len(kept) + 1), others)
            carried = {id(r): r for r, _ in kept} | {id(req): req}
            if not all(self.cost.fits(r.deadline, work) for r in carried.values()):
                break
            kept.append((req, i))
            width = wider
            if self.cost.probing:
                break  # a relaxed, unmeasured estimate: probe with one pair
        ran = {id(r) for r, _ in kept}
        for req, i in batch[len(kept) :]:
            if req.error is None and self.cost.fits(req.deadline, _shared(len(req.pairs[i]), 0)):
                req.todo.add(i)  # a later pass may still take it
                continue
            req.pending.discard(i)
            for j in list(req.todo):  # the rest of the request would end later still
                req.todo.discard(j)
                req.pending.discard(j)
            if (
                id(req) not in ran
                and not req.relaxed
                and all(row is None for row in req.scores)
                and not req.deadline.expired()
            ):
                req.relaxed = True
                self.cost.relax()
            if req.done and req in self._queue:
                self._queue.remove(req)
        if len(kept) < len(batch):
            self._cond.notify_all()
        return kept

    def _execute(self, batch: list[tuple[_Request, int]]) -> None:
        if not batch:
            return
        work = max(len(req.pairs[i]) for req, i in batch) * len(batch)
        with self._cond:  # _next_batch counted this pass as running already
            others = self._running_work - work
        started = time.monotonic()
        try:
            rows = self.forward([req.pairs[i] for req, i in batch])
            if len(rows) != len(batch):
                raise RuntimeError(f"forward returned {len(rows)} rows for {len(batch)} pairs")
        except BaseException as exc:
            with self._cond:
                self._running_work -= work
                for req in {id(r): r for r, _ in batch}.values():
                    if req.error is None:
                        req.error = exc
                    if req in self._queue:
                        self._queue.remove(req)
                self._cond.notify_all()
            raise
        seconds = time.monotonic() - started
        self.cost.observe(_shared(work, others), seconds)
        with self._cond:
            self._running_work -= work
            self.passes += 1
            for (req, i), row in zip(batch, rows, strict=True):
                req.scores[i] = row
                req.pending.discard(i)
                if req.done and req in self._queue:
                    self._queue.remove(req)
            self._cond.notify_all()


def _shared(work: int, others: int) -> int:
    """The work a pass of ``work`` padded tokens costs while passes of ``others`` tokens run on
    other lanes: lanes share the cores, so a pass overlapping another of its size takes about
    twice as long (it is charged its own work plus the overlap, at most its own again). The
    pass's time is learned as this much work, and admitted as this much, so the one cost model
    stays per token whether passes run alone or side by side."""
    return work + min(others, work)
