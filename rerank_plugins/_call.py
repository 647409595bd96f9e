"""One rerank call: its inputs, its one deadline, the scores so far and what it counted.

:class:`Call` is the state of a call and the rules that decide on it as units come and go: which
part of a unit the time left admits (:meth:`Call.admit`), what a unit's success or transient
failure changes (:meth:`Call.succeeded`, :meth:`Call.failed`), and the result
(:meth:`Call.finish`, through the pure rules of :mod:`rerank_plugins._ranking`). How units run,
on threads or tasks, is :mod:`rerank_plugins._schedule`; sync and async share this state, so both
follow exactly the same rules.

The deadline: a call makes one :class:`~rerank_plugins._deadline.Deadline` (from ``budget_ms``,
capped by a :func:`~rerank_plugins.ttft_budget` target) and reads it for every admission; a
scorer hears it on one channel only, the ``timeout`` argument of ``score_unit`` (the seconds
left when the unit starts). An argument, not a context variable, because it is what a reader
sees in a signature and what every scorer, also one called directly outside the core, already
takes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence

from rerank_plugins._deadline import Deadline, query_deadline
from rerank_plugins._exceptions import TimedOutError, TransientError
from rerank_plugins._inputs import check_query, check_retrieval_scores, check_texts, sanitize
from rerank_plugins._options import RerankOptions
from rerank_plugins._ranking import blended, collect, cut, normalised, order
from rerank_plugins._results import RankedText, RerankResult, RerankStats
from rerank_plugins._scorer import Scorer, UnitScores

__all__ = ["Call"]

logger = logging.getLogger("rerank_plugins")

_MAX_RETRY_WAIT_S = 30.0  # cap on an honoured Retry-After when there is no budget


class Call:
    """The state of one rerank call: inputs, budget clock, scores so far, counters."""

    def __init__(
        self,
        scorer: Scorer,
        query: str | None,
        texts: Sequence[str],
        retrieval_scores: Sequence[float | None] | None,
        options: RerankOptions,
    ) -> None:
        self.started = time.monotonic()
        self.scorer = scorer
        self.options = options
        self.query = sanitize(check_query(query, scorer))
        self.texts = check_texts(texts)
        self.retrieval_scores = check_retrieval_scores(retrieval_scores, len(self.texts))
        self.deadline = _deadline_of(self.started, options.budget_ms)
        end = self.deadline.end
        self.budget_ms = None if end is None else max(0.0, (end - self.started) * 1000.0)
        # What the scorer reads: lone surrogates (invalid in UTF-8, so no tokenizer or JSON
        # encoder takes them) become U+FFFD; the result keeps the caller's own text.
        self.keys = [sanitize(text) for text in self.texts]
        window = self.keys[: options.max_candidates or len(self.keys)]
        # Repeated texts are scored once; every candidate that carries one gets its score.
        self.unique: list[str] = list(dict.fromkeys(window))
        self.raw: list[float | None] = [None] * len(self.unique)
        self.scored_by: list[str | None] = [None] * len(self.unique)
        self.groups: list[int] = [0] * len(self.unique)
        self.work: list[float] = [0.0] * len(self.unique)  # each text's, from the plan
        self.endpoints: dict[str, dict[str, float]] = {}
        self.pending: list[list[int]] = []  # planned once the scorer is ready (plan)
        self.lock = threading.Lock()
        self.stopped = self.relaxed = self.budget_exhausted = self.loading = False
        self.fallback_reason: str | None = None
        self.retries = self.units = self.failed_units = 0
        self.billed: dict[str, float] = {}
        self.load_wait_ms = 0.0

    def plan(self) -> None:
        """Ask the scorer, once, for its units and their work (it is ready: planning may need
        its tokenizer)."""
        for unit in self.scorer.plan(self.query, self.unique):
            indices, works = list(unit.indices), [float(w) for w in unit.work]
            if len(works) != len(indices) or not all(math.isfinite(w) and w >= 0 for w in works):
                raise RuntimeError(
                    f"{type(self.scorer).__name__}.plan gave a unit of {len(indices)} texts the "
                    f"work {works!r:.60}; it must give one finite, non-negative work per text."
                )
            for pos, work in zip(indices, works, strict=True):
                self.work[pos] = work
            self.pending.append(indices)

    def waited_for_load(self, started: float, *, done: bool) -> None:
        """Record the wait for a loading scorer; not done means the budget ran out first."""
        self.load_wait_ms = (time.monotonic() - started) * 1000.0
        if not done:
            self.loading = True
            self.budget_exhausted = True

    def works(self, unit: list[int]) -> list[float]:
        """The work each text of ``unit`` costs, as the plan stated it."""
        return [self.work[i] for i in unit]

    def unit_texts(self, unit: list[int]) -> list[str]:
        return [self.unique[i] for i in unit]

    def time_left(self) -> float | None:
        return self.deadline.left()

    def admit(self, unit: list[int]) -> list[int]:
        """The leading part of ``unit`` that the time left is expected to cover (all of it
        without a budget or before the first estimate); empty when not even one text fits. A
        scorer that admits its own work (:attr:`~rerank_plugins.Scorer.admits_own_work`) gets the
        whole unit while time is left: it asks the one cost model itself, per forward pass.

        Scoring the part that fits, rather than nothing, keeps the cost estimate measured: after
        one slow unit pushed it up, the next call still scores and brings it back down.
        """
        if self.stopped:
            return []
        left = self.time_left()
        if left is None or (left > 0 and self.scorer.admits_own_work):
            return unit  # the scorer asks the cost model itself, per pass (one estimate, not two)
        cost = self.scorer.cost
        fits = cost.fitting(left, self.works(unit)) if left > 0 else 0
        if fits is not None and fits < 1:
            with self.lock:
                if left > 0 and self.units == 0 and not self.relaxed:
                    self.relaxed = True
                    cost.relax()  # the estimate alone said no: let it decay (the next call probes)
                self.budget_exhausted = True
                self.stopped = True  # no later unit starts either: candidates go in order
            return []
        if cost.probing:
            return unit[:1]  # a relaxed, unmeasured estimate: probe with the least work there is
        if fits is None or fits >= len(unit):
            return unit
        return unit[:fits]

    def succeeded(self, unit: list[int], returned: object, seconds: float) -> None:
        """Record what a unit returned (and, unless the scorer learns its own cost, teach the
        cost model the time its scored texts took)."""
        out = _as_unit_scores(self.scorer, returned)
        if len(out.scores) != len(unit):
            # A scorer bug, not a backend hiccup: say so loudly rather than misattribute scores.
            raise RuntimeError(
                f"{type(self.scorer).__name__}.score_unit returned {len(out.scores)} scores "
                f"for {len(unit)} texts."
            )
        missing = sum(score is None for score in out.scores)
        if missing < len(unit) and not self.scorer.learns_own_cost:
            done = [pos for pos, score in zip(unit, out.scores, strict=True) if score is not None]
            self.scorer.cost.observe(sum(self.works(done)), seconds)
        with self.lock:
            self.units += 1
            by = out.scored_by or [self.scorer.name] * len(unit)
            groups = out.groups or [0] * len(unit)
            for pos, score, name, group in zip(unit, out.scores, by, groups, strict=True):
                self.raw[pos] = None if score is None else float(score)
                self.scored_by[pos] = None if score is None else name
                self.groups[pos] = int(group)
            for url, counts in out.endpoints.items():
                _add_counts(self.endpoints.setdefault(url, {}), counts)
            if out.budget_exhausted:
                self.budget_exhausted = True
                if self.scorer.admits_own_work:
                    self.stopped = True  # candidates go in order: no later unit starts
            elif missing:
                self.fallback_reason = (
                    f"partial: {self.scorer.name} left {missing} of {len(unit)} texts of a unit "
                    f"unscored"
                )
            _add_counts(self.billed, out.billed)

    def failed(
        self, unit: list[int], exc: TransientError, attempt: int, seconds: float
    ) -> float | None:
        """Record a transient failure; return the delay before a retry, or ``None`` to stop.

        A retry must fit in the time left: its delay plus the unit's expected cost, or, after a
        timeout, at least as long as the attempt that timed out took.
        """
        left = self.time_left()
        if left is not None and left <= 0:
            with self.lock:
                self.budget_exhausted = True
            return None
        if attempt < self.scorer.max_retries:
            delay = 0.05 * 2**attempt if exc.retry_after is None else exc.retry_after
            if left is None:
                delay = min(delay, _MAX_RETRY_WAIT_S)
            expected = self.scorer.cost.expected(sum(self.works(unit))) or 0.0
            if isinstance(exc, TimedOutError):
                expected = max(expected, seconds)
            if left is None or delay + expected < left:
                with self.lock:
                    self.retries += 1
                return delay
        with self.lock:
            self.failed_units += 1
            self.fallback_reason = f"{exc.reason}: {exc}"
        if self.options.on_error == "raise":
            raise exc
        logger.warning(
            "%s: %d candidate(s) left unscored after a transient failure (%s): %s",
            self.scorer.name,
            len(unit),
            exc.reason,
            exc,
        )
        return None

    def finish(self) -> RerankResult:
        """The result: the ranking rules applied to what the units returned, and the stats."""
        scorer, options = self.scorer, self.options
        signals, scores = normalised(self.raw, scorer.normalization, scorer.calibration)
        window = len(self.raw) and min(len(self.texts), options.max_candidates or len(self.texts))
        scored, unscored, at = collect(self.texts, self.keys, window, self.unique, self.raw, scores)
        signal = {index: signals[pos] or 0.0 for index, pos in at.items()}
        group = {index: self.groups[pos] for index, pos in at.items()}
        ranked_by = tuple(
            self.scored_by[at[index]] if index in at else None for index in range(len(self.texts))
        )
        if options.blend is not None and scored:
            scored = blended(scored, signal, self.retrieval_scores, options.blend)
            signal = {}
        ranked = cut(
            order(scored, signal, group) + unscored,
            min_score=options.min_score,
            top_n=options.top_n,
        )
        self._warn_if_nothing_scored(scored)
        return RerankResult(ranked, self._stats(len(scored), len(ranked), ranked_by))

    def _warn_if_nothing_scored(self, scored: list[RankedText]) -> None:
        if self.loading:
            logger.warning(
                "%s: still loading its model when the budget (%.0f ms) ran out; %d candidate(s) "
                "are returned in retrieval order while it loads in the background. Build the "
                "adapter, or call scorer.warm() or scorer.prepare(), at start-up.",
                self.scorer.name,
                self.budget_ms or 0.0,
                len(self.unique),
            )
        elif self.unique and not scored and self.budget_exhausted:
            logger.warning(
                "%s: the budget (%s ms) ran out before any of %d candidate(s) was scored; they "
                "are returned in retrieval order. Raise budget_ms (or the ttft_budget target), or "
                "call scorer.prepare() at start-up to keep model loading out of the first call.",
                self.scorer.name,
                f"{self.budget_ms:.0f}" if self.budget_ms is not None else None,
                len(self.unique),
            )

    def _stats(self, scored: int, returned: int, ranked_by: tuple[str | None, ...]) -> RerankStats:
        runtime = getattr(self.scorer, "runtime", None)
        return RerankStats(
            backend=self.scorer.backend,
            model=self.scorer.model,
            candidates_in=len(self.texts),
            scored=scored,
            returned=returned,
            latency_ms=(time.monotonic() - self.started) * 1000.0,
            billed=dict(self.billed),
            runtime=runtime if isinstance(runtime, str) else None,
            ranked_by=ranked_by,
            endpoints={url: dict(counts) for url, counts in self.endpoints.items()},
            **{name: getattr(self, name) for name in _AS_COUNTED},
        )


_AS_COUNTED = (
    "budget_ms",
    "budget_exhausted",
    "fallback_reason",
    "retries",
    "units",
    "failed_units",
    "loading",
    "load_wait_ms",
)
"""The stats a call reports as it counted them (its attributes of the same names)."""


def _deadline_of(started: float, budget_ms: float | None) -> Deadline:
    """The call's one deadline: ``budget_ms`` from ``started``; inside a ttft_budget, the query's
    deadline (what is left of its time-to-first-token target) caps it."""
    end = None if budget_ms is None else started + budget_ms / 1000.0
    target = query_deadline()
    if target is not None and target.end is not None:
        end = target.end if end is None else min(end, target.end)
    return Deadline(end)


def _add_counts(totals: dict[str, float], counts: Mapping[str, float]) -> None:
    """Add ``counts`` into ``totals``, counter by counter."""
    for name, value in counts.items():
        totals[name] = totals.get(name, 0.0) + float(value)


def _as_unit_scores(scorer: Scorer, returned: object) -> UnitScores:
    """A scorer may return :class:`UnitScores` or just the scores (a list, a tuple, an array)."""
    if isinstance(returned, UnitScores):
        return returned
    if isinstance(returned, (str, bytes, Mapping)) or not hasattr(returned, "__len__"):
        raise TypeError(
            f"{type(scorer).__name__}.score_unit returned {type(returned).__name__}; return one "
            f"raw score per text (a list of floats, None for a text left unscored) or UnitScores."
        )
    return UnitScores(list(returned))  # type: ignore[call-overload]
