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

- samples are averaged with more weight on a faster one (0.5) than on a slower one (0.3), so the
  estimate comes back down within a few samples once the backend is fast again;
- each time the estimate alone refuses work that nothing has measured since (the core: a call
  that would score nothing; the batcher: a request none of whose pairs ran), it is quartered
  (:meth:`CostModel.relax`): an estimate that only ever says "no" is never measured again, so
  it must decay until some work is tried (after a 100x slow moment, the fourth call tries again);
- the margin a fit needs is learned too: 1 plus twice the running mean of each sample's relative
  distance from the estimate (1.0 for a steady backend, up to 2.0 for an erratic one), so a noisy
  CPU gets room and a steady API does not lose work to a fixed safety factor; being relative, one
  outlier of any size adds at most 0.5 and is forgotten within a few samples.
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
    >>> cost.fitting(1.0, [3, 3, 3, 3])  # leading works that fit in 1 s
    3
    """

    FASTER_WEIGHT = 0.5
    SLOWER_WEIGHT = 0.3
    DEVIATION_WEIGHT = 0.25
    RELAX = 0.25
    MAX_MARGIN = 2.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._per_work: float | None = None
        self._deviation = 0.0  # running mean of |sample - estimate| / max(sample, estimate)
        self.samples = 0
        """Samples learned so far (units, passes or calls)."""

    @property
    def per_work(self) -> float | None:
        """Seconds per unit of work, or ``None`` before the first sample."""
        with self._lock:
            return self._per_work

    @property
    def margin(self) -> float:
        """What an expected time is multiplied by before it is compared with the time left:
        1 + twice the samples' mean relative deviation, at most :attr:`MAX_MARGIN`."""
        with self._lock:
            return self._margin()

    def _margin(self) -> float:
        return min(self.MAX_MARGIN, 1.0 + 2.0 * self._deviation)

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
            weight = self.FASTER_WEIGHT if sample < prev else self.SLOWER_WEIGHT
            self._per_work = (1.0 - weight) * prev + weight * sample
            k = self.DEVIATION_WEIGHT
            distance = abs(sample - prev) / max(sample, prev) if max(sample, prev) > 0 else 0.0
            self._deviation = (1.0 - k) * self._deviation + k * distance

    def relax(self) -> None:
        """Quarter the estimate: it alone refused work that nothing measured since."""
        with self._lock:
            if self._per_work is not None:
                self._per_work *= self.RELAX

    def reset(self) -> None:
        """Forget what was learned (the next work measures afresh)."""
        with self._lock:
            self._per_work = None
            self._deviation = 0.0

    def __repr__(self) -> str:
        with self._lock:
            per, margin = self._per_work, self._margin()
        if per is None:
            return "CostModel(unmeasured)"
        return f"CostModel({per * 1000:.3f} ms per unit of work, margin {margin:.2f})"
