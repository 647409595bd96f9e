"""One cost model per scorer: what work is expected to take, learned from what it took.

The budget asks one question everywhere: does work expected to cost this much still end before
the deadline? The core asks it before each unit, the local model's micro-batcher before each
forward pass, the LLM judge before each further LLM call. All three ask the scorer's one
:class:`CostModel`, and all three feed it: a sample is ``seconds`` for ``work``, in the unit of
work the scorer declares (:meth:`~rerank_plugins.Scorer.work`: one per text by default, tokens
for the local cross-encoder, LLM calls for the judge), so a unit, a pass and a call all teach
the same estimate.

What it learns recovers, so one slow moment (a cold start, a GC pause, one slow request) never
stops later calls from scoring:

- samples are averaged (weight 0.3), and one under half the estimate weighs 0.5, so after a slow
  moment the estimate comes back down within a few samples once the backend is fast again,
  while ordinary variance moves it evenly both ways (a bias towards fast samples would make
  every estimate optimistic);
- each time the estimate alone refuses work that nothing has measured since (the core: a call
  that would score nothing; the batcher: a request none of whose pairs ran), it is quartered
  (:meth:`CostModel.relax`): an estimate that only ever says "no" is never measured again, so
  it must decay until some work is tried (after a 100x slow moment, the fourth call tries again);
- the margin a fit needs is learned too: a running 98th percentile of how far a sample came out
  above the estimate (each sample above the margin raises it by 0.245, each one below lowers it
  by 0.005; between 1.0 and 2.0, starting at 1.5). A steady backend comes down to 1.0, a CPU
  whose passes vary gets the room its variance needs (about 1 pass in 50 overruns its
  estimate), and one outlier of any size raises it by a quarter at most, forgotten within some
  fifty samples;
- after a relaxation the next work is a probe (:attr:`CostModel.probing`): one text, one pair,
  the least there is, so that probing an estimate that was right costs as little as possible.
"""

from __future__ import annotations

import threading

from rerank_plugins._deadline import Deadline

__all__ = ["CostModel"]


class CostModel:
    """Seconds per unit of work, learned from every unit, pass or call a scorer runs.

    Shared by every call on one scorer (threads and event loops alike); thread-safe.

    >>> cost = CostModel()
    >>> cost.expected(10) is None  # nothing measured yet: any work may start
    True
    >>> cost.observe(10, 1.0); cost.expected(4)
    0.4
    >>> cost.margin  # before samples have taught one
    1.5
    >>> cost.fitting(1.0, [3, 3, 3, 3])  # leading works that fit in 1 s, with the margin
    2
    """

    WEIGHT = 0.3
    RECOVERY_WEIGHT = 0.5
    MARGIN_QUANTILE = 0.98
    MARGIN_STEP = 0.25
    FIRST_MARGIN = 1.5
    """The margin before samples have taught one: room for the variance nothing has measured
    yet (at 1.0, the first calls after a warm-up overran tight budgets by a pass or two)."""
    RELAX = 0.25
    MAX_MARGIN = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_work: float | None = None
        self._margin_now = self.FIRST_MARGIN  # running MARGIN_QUANTILE of sample / estimate
        self._relaxed = False
        self.samples = 0
        """Samples learned so far (units, passes or calls)."""

    @property
    def per_work(self) -> float | None:
        """Seconds per unit of work, or ``None`` before the first sample."""
        with self._lock:
            return self._per_work

    @property
    def probing(self) -> bool:
        """Whether the estimate was relaxed and nothing has measured it since: the next work is a
        probe, and should be as small as it can be (one text, one pair), so that a probe of an
        estimate that was right costs as little as possible."""
        with self._lock:
            return self._relaxed

    @property
    def margin(self) -> float:
        """What an expected time is multiplied by before it is compared with the time left: a
        running :attr:`MARGIN_QUANTILE` of sample / estimate, from 1.0 to :attr:`MAX_MARGIN`."""
        with self._lock:
            return self._margin()

    def _margin(self) -> float:
        return self._margin_now

    def expected(self, work: float) -> float | None:
        """Seconds ``work`` is expected to take (``None``: nothing measured yet)."""
        with self._lock:
            return None if self._per_work is None else self._per_work * work

    def fits(self, deadline: Deadline, work: float) -> bool:
        """Whether ``work`` is expected to end before ``deadline``, with the learned margin
        (always, before the first sample: the first work measures the backend)."""
        with self._lock:
            if self._per_work is None:
                return not deadline.expired()
            expected, margin = self._per_work * work, self._margin()
        return deadline.fits(expected, margin=margin)

    def fitting(self, seconds: float, works: list[float]) -> int | None:
        """How many of the leading ``works`` are expected to end within ``seconds``, with the
        learned margin (``None``: nothing measured yet)."""
        with self._lock:
            if self._per_work is None:
                return None
            per, margin = self._per_work, self._margin()
        total = 0.0
        for n, work in enumerate(works):
            total += work
            if total * per * margin > seconds:
                return n
        return len(works)

    def observe(self, work: float, seconds: float) -> None:
        """Learn that ``work`` took ``seconds``."""
        if work <= 0:
            return
        sample = max(0.0, seconds) / work
        with self._lock:
            self.samples += 1
            prev = self._per_work
            if prev is None:
                self._per_work = sample
                return
            if self._relaxed:
                # The estimate was lowered on purpose, unmeasured: how far this sample lands
                # above it says nothing about the backend's variance.
                self._relaxed = False
            else:
                ratio = sample / prev if prev > 0 else 1.0
                q, step = self.MARGIN_QUANTILE, self.MARGIN_STEP
                above = ratio > self._margin_now + 1e-9
                moved = self._margin_now + (step * q if above else -step * (1 - q))
                self._margin_now = min(self.MAX_MARGIN, max(1.0, moved))
            weight = self.RECOVERY_WEIGHT if sample < prev / 2 else self.WEIGHT
            self._per_work = (1.0 - weight) * prev + weight * sample

    def relax(self) -> None:
        """Quarter the estimate: it alone refused work that nothing measured since."""
        with self._lock:
            if self._per_work is not None:
                self._per_work *= self.RELAX
                self._relaxed = True

    def reset(self) -> None:
        """Forget what was learned (the next work measures afresh)."""
        with self._lock:
            self._per_work = None
            self._margin_now = self.FIRST_MARGIN

    def __repr__(self) -> str:
        with self._lock:
            per, margin = self._per_work, self._margin()
        if per is None:
            return "CostModel(unmeasured)"
        return f"CostModel({per * 1000:.3f} ms per unit of work, margin {margin:.2f})"
