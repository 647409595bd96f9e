"""The scoring core: every rule of the rerank contract, written once.

:class:`Reranker` wraps a :class:`~rerank_plugins.Scorer` with the options every entry point shares
(``top_n``, ``max_candidates``, ``min_score``, ``budget_ms``, ``on_error``) and turns
``(query, texts)`` into a :class:`RerankResult`: the ranked candidates and the call's stats. The
framework adapters are thin layers over it. This module imports no third-party package.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from rerank_plugins._calibration import signal_of
from rerank_plugins._deadline import Deadline, query_deadline
from rerank_plugins._exceptions import (
    ConfigurationError,
    InvalidInputError,
    TimedOutError,
    TransientError,
)
from rerank_plugins._scorer import Normalization, Scorer, UnitScores, normalize

__all__ = [
    "METADATA_KEYS",
    "OnError",
    "RankedText",
    "RerankOptions",
    "RerankResult",
    "RerankStats",
    "Reranker",
    "blend_scores",
    "candidate_metadata",
]

logger = logging.getLogger("rerank_plugins")

OnError = Literal["fallback", "raise"]

METADATA_KEYS = (
    "relevance_score",
    "rerank_raw_score",
    "retrieval_score",
    "retrieval_rank",
    "reranker",
    "rerank_scored",
)
"""The metadata keys both framework adapters set on every returned node or document."""

_MAX_RETRY_WAIT_S = 30.0  # cap on an honoured Retry-After when there is no budget
_SURROGATES = re.compile("[\ud800-\udfff]")


@dataclass(kw_only=True)
class RerankOptions:
    """The options every entry point shares: the one declaration of them.

    Everything else derives from these fields: :class:`Reranker` and both framework adapters
    inherit them (same names, types, defaults and checks), the command line makes its flags from
    them, and the API reference renders their documentation. Options are live and strict: a bad
    value, at construction or assigned later, is a :class:`~rerank_plugins.ConfigurationError`
    (also a ``ValueError``) that names the option, the value and a valid example.

    Example:
        >>> options = RerankOptions(top_n=3)
        >>> options.top_n = 0
        Traceback (most recent call last):
            ...
        rerank_plugins._exceptions.ConfigurationError: top_n must be a positive integer or None, \
got 0; pass e.g. top_n=3, or None for all candidates.
    """

    top_n: int | None = field(
        default=None,
        metadata={
            "doc": "How many candidates to return; None returns all; above the number of "
            "candidates it is clamped."
        },
    )
    max_candidates: int | None = field(
        default=None,
        metadata={
            "doc": "Score only the first max_candidates candidates (retrieval order); the rest "
            "follow unscored."
        },
    )
    min_score: float | None = field(
        default=None,
        metadata={
            "doc": "Drop scored candidates whose normalised score (0-1) is below it: a "
            "probability of relevance when the scorer has a calibration, else on the scorer's "
            "own scale."
        },
    )
    budget_ms: float | None = field(
        default=None,
        metadata={
            "doc": "Wall-clock budget for the whole call, in milliseconds: a deadline the "
            "scoring stops at, whatever past calls cost (see the contract guide)."
        },
    )
    on_error: OnError = field(
        default="fallback",
        metadata={
            "doc": "'fallback' keeps candidates unscored after a transient failure; 'raise' "
            "raises TransientError."
        },
    )
    blend: float | None = field(
        default=None,
        metadata={
            "doc": "Weight in [0, 1] of the first-stage score in the final order (z-scores of "
            "both, mixed; see blend_scores); None ranks by the scorer alone."
        },
    )

    def __setattr__(self, name: str, value: Any) -> None:
        # Construction assigns every field through here too: one check for both.
        check = _OPTION_CHECKS.get(name)
        if check is not None:
            check(name, value)
        object.__setattr__(self, name, value)

    @classmethod
    def pick(cls, values: Mapping[str, Any]) -> RerankOptions:
        """Validate the option entries of ``values`` (other keys are ignored); used by the
        adapters so that every entry point validates with the same rules and messages."""
        return cls(**{name: values[name] for name in OPTION_NAMES if name in values})

    @classmethod
    def check(cls, name: str, value: Any) -> None:
        """Validate one option's value with the contract's rule and message (the command line
        uses it for its flags)."""
        _OPTION_CHECKS[name](name, value)

    @property
    def options(self) -> RerankOptions:
        """The options as they are now, as a plain :class:`RerankOptions` (a snapshot)."""
        return RerankOptions(**{name: getattr(self, name) for name in OPTION_NAMES})


def _check_count(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(
            f"{name} must be a positive integer or None, got {value!r}; "
            f"pass e.g. {name}=3, or None for all candidates."
        )


def _fraction(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value <= 1.0


def _check_fraction(meaning: str, unset: str) -> Any:
    """The check of an option that takes a number in [0, 1] or None."""

    def check(name: str, value: object) -> None:
        if value is not None and not _fraction(value):
            raise ConfigurationError(
                f"{name} must be {meaning}, got {value!r}; pass e.g. {name}=0.5, or None {unset}."
            )

    return check


def _check_budget(name: str, value: object) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not value > 0
        or (math.isinf(value))
    ):
        raise ConfigurationError(
            f"budget_ms must be a positive number of milliseconds, got {value!r}; "
            f"pass e.g. budget_ms=200, or None for no budget."
        )


def _check_on_error(name: str, value: object) -> None:
    if value not in ("fallback", "raise"):
        raise ConfigurationError(f"on_error must be 'fallback' or 'raise', got {value!r}.")


_OPTION_CHECKS: dict[str, Any] = {
    "top_n": _check_count,
    "max_candidates": _check_count,
    "min_score": _check_fraction("a number between 0 and 1 (scores are normalised)", "to keep all"),
    "budget_ms": _check_budget,
    "on_error": _check_on_error,
    "blend": _check_fraction(
        "a weight between 0 and 1 (the first stage's share of the final order)",
        "for the scorer alone",
    ),
}
OPTION_NAMES: tuple[str, ...] = tuple(RerankOptions.__dataclass_fields__)
"""The contract's option names, in declaration order (the one list every entry point uses)."""
OPTION_DOCS: dict[str, str] = {
    name: spec.metadata["doc"] for name, spec in RerankOptions.__dataclass_fields__.items()
}
"""Each option's documentation, from the declaration (adapters' field descriptions, CLI help)."""
_UNSET: Any = object()


@dataclass(frozen=True)
class RankedText:
    """One candidate in the result.

    Attributes:
        index: Its 0-based position in the input (its retrieval rank).
        text: The text that was (or would have been) scored.
        score: Normalised relevance in ``[0, 1]``; ``None`` when unscored.
        raw_score: The backend's own score; ``None`` when unscored.
    """

    index: int
    text: str
    score: float | None
    raw_score: float | None

    @property
    def scored(self) -> bool:
        """Whether the candidate was scored (``False``: beyond ``max_candidates``, budget ran
        out, or a transient failure with ``on_error="fallback"``)."""
        return self.score is not None


@dataclass(frozen=True)
class RerankStats:
    """What one call did.

    Attributes:
        backend: The scorer's backend (``"cross-encoder"``, ``"cohere"``, ...).
        model: The scorer's model.
        candidates_in: Candidates passed in.
        scored: Candidates that got a score.
        returned: Candidates returned.
        latency_ms: Wall-clock time of the call.
        budget_ms: The call's budget in milliseconds, if any: ``budget_ms``, or what remained of
            a :func:`~rerank_plugins.ttft_budget` target when the call started, whichever ends
            first.
        budget_exhausted: Whether the budget ran out before every unit was scored.
        fallback_reason: Why some candidates stayed unscored after a failure, if any.
        retries: Unit retries after transient failures.
        units: Units scored successfully.
        failed_units: Units given up on after transient failures.
        billed: What the backend billed (tokens, search units), summed over units.
        runtime: The scorer's forward-pass engine where it has one (a local cross-encoder's
            ``"torch-bf16"``, say: what ``runtime="auto"`` picked), else ``None``.
        loading: Whether the scorer was still loading (its model) when the budget ran out, so
            nothing was scored and the candidates kept retrieval order; the loading goes on in
            the background and a later call scores. ``False`` when it was ready in time.
        load_wait_ms: How long this call waited for the scorer to finish loading (``0`` when it
            was ready before the call: built by an adapter, or after
            :meth:`~rerank_plugins.Scorer.prepare`).
        ranked_by: Per input candidate (by its index), the name of the scorer that scored it
            (``backend:model``), or ``None`` when it stayed unscored; a fallback chain names the
            scorer of the chain that ranked each candidate.
        endpoints: Per endpoint of a replica set (by URL), what this call did there: requests,
            errors, timeouts, hedges, ejections and the milliseconds spent waiting on it
            (empty for a scorer with one endpoint).
    """

    backend: str
    model: str
    candidates_in: int
    scored: int
    returned: int
    latency_ms: float
    budget_ms: float | None
    budget_exhausted: bool
    fallback_reason: str | None
    retries: int
    units: int
    failed_units: int
    billed: Mapping[str, float] = field(default_factory=dict)
    runtime: str | None = None
    loading: bool = False
    load_wait_ms: float = 0.0
    ranked_by: tuple[str | None, ...] = ()
    endpoints: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The stats as a plain, JSON-serialisable dict."""
        out = asdict(self)
        out["billed"] = dict(self.billed)
        out["ranked_by"] = list(self.ranked_by)
        out["endpoints"] = {url: dict(counts) for url, counts in self.endpoints.items()}
        return out


@dataclass(frozen=True)
class RerankResult:
    """The ranked candidates and the call's stats.

    Iterating yields the :class:`RankedText` items, best first.
    """

    items: list[RankedText]
    stats: RerankStats

    def __iter__(self) -> Iterator[RankedText]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: Any) -> Any:
        """``result[0]`` is the best candidate; slices give lists (``result[:3]``)."""
        return self.items[index]

    @property
    def indices(self) -> list[int]:
        """Input positions of the returned candidates, in result order."""
        return [item.index for item in self.items]


def candidate_metadata(
    item: RankedText, *, reranker: str, retrieval_score: float | None
) -> dict[str, Any]:
    """The contract's metadata for one returned candidate (same keys in every adapter)."""
    return {
        "relevance_score": item.score,
        "rerank_raw_score": item.raw_score,
        "retrieval_score": None if retrieval_score is None else float(retrieval_score),
        "retrieval_rank": item.index,
        "reranker": reranker,
        "rerank_scored": item.scored,
    }


@dataclass(eq=False, repr=False)
class Reranker(RerankOptions):
    """Reranks candidates with a scorer, under the contract's options.

    Args:
        scorer: What scores ``(query, texts)``.

    The options (``top_n``, ``max_candidates``, ``min_score``, ``budget_ms``, ``on_error``,
    ``blend``) are keyword arguments, declared once in :class:`RerankOptions`; they are live
    attributes: ``reranker.top_n = 5`` is checked and applies to the next call. :meth:`rerank`
    and :meth:`arerank` take per-call ``top_n`` and ``budget_ms`` too.

    Ownership: the scorer is the caller's (close it with ``scorer.close()`` or ``with scorer:``);
    the worker threads of a sync call are the call's own and stop when it returns. A deep copy
    shares the scorer. :meth:`rerank` works inside a running event loop too (a notebook, an
    async handler calling sync code); there it blocks the loop, as any sync call does, so prefer
    :meth:`arerank` in async code.

    Example:
        >>> from rerank_plugins import Reranker
        >>> from rerank_plugins.testing import KeywordScorer
        >>> result = Reranker(KeywordScorer(), top_n=2).rerank(
        ...     "red apples", ["green pears", "red apples", "apples"])
        >>> [item.text for item in result]
        ['red apples', 'apples']
    """

    scorer: Scorer

    def __post_init__(self) -> None:
        if not isinstance(self.scorer, Scorer):
            raise TypeError(
                f"Reranker needs a rerank_plugins Scorer, got {type(self.scorer).__name__}; "
                f"pass e.g. CrossEncoderScorer(...)."
            )

    def __repr__(self) -> str:
        return f"Reranker({self.scorer!r}, {self.options})"

    def rerank(
        self,
        query: str | None,
        texts: Sequence[str],
        *,
        retrieval_scores: Sequence[float | None] | None = None,
        top_n: int | None = _UNSET,
        budget_ms: float | None = _UNSET,
    ) -> RerankResult:
        """Rerank ``texts`` (in retrieval order, best first) for ``query``.

        Args:
            query: The user's question.
            texts: The candidates' texts, in retrieval order.
            retrieval_scores: The first stage's score of each text (higher is better), used by
                ``blend``; without them ``blend`` uses the retrieval order. A missing or
                non-finite one counts as missing.
            top_n: This call's ``top_n``, overriding the reranker's (``None``: all).
            budget_ms: This call's budget, overriding the reranker's (``None``: no budget).

        Raises:
            InvalidInputError: blank or missing query, or texts that are not strings.
            TransientError: a transient failure with ``on_error="raise"``.
            ConfigurationError: a setup problem of the scorer.
        """
        call = _Call(self, query, texts, retrieval_scores, self._for_call(top_n, budget_ms))
        if call.unique and self._ready_in_time(call):
            call.plan()
        if call.pending:
            if self.scorer.max_concurrency > 1 and len(call.pending) > 1:
                workers = min(self.scorer.max_concurrency, len(call.pending))
                pool = ThreadPoolExecutor(max_workers=workers)
                futures: list[Any] = []
                try:
                    # Each worker runs in a copy of the caller's context, so tracing that lives
                    # in contextvars (LangChain run trees, LlamaIndex spans) follows the unit.
                    futures = [
                        pool.submit(contextvars.copy_context().run, self._run_unit, call, unit)
                        for unit in call.pending
                    ]
                    # The first error wins at once: a 401 on one request is not held back
                    # until its slow siblings finish (they run on, and their results are dropped).
                    wait(futures, return_when=FIRST_EXCEPTION)
                    for future in futures:
                        if future.done() and future.exception() is not None:
                            future.result()
                except BaseException:
                    # One unit raised (on_error="raise", a configuration error): no unit that
                    # has not started will start, and the caller hears at once.
                    call.stopped = True
                    for future in futures:
                        future.cancel()
                    raise
                finally:
                    pool.shutdown(wait=False, cancel_futures=True)
            else:
                for unit in call.pending:
                    self._run_unit(call, unit)
        return call.finish()

    def _for_call(self, top_n: Any, budget_ms: Any) -> RerankOptions:
        if top_n is _UNSET and budget_ms is _UNSET:
            return self.options
        changes = {
            name: value
            for name, value in (("top_n", top_n), ("budget_ms", budget_ms))
            if value is not _UNSET
        }
        return replace(self.options, **changes)

    async def arerank(
        self,
        query: str | None,
        texts: Sequence[str],
        *,
        retrieval_scores: Sequence[float | None] | None = None,
        top_n: int | None = _UNSET,
        budget_ms: float | None = _UNSET,
    ) -> RerankResult:
        """Async twin of :meth:`rerank`: same rules, same result on the same input."""
        call = _Call(self, query, texts, retrieval_scores, self._for_call(top_n, budget_ms))
        if call.unique and await self._aready_in_time(call):
            call.plan()
        if call.pending:
            limit = asyncio.Semaphore(max(1, self.scorer.max_concurrency))

            async def run(unit: list[int]) -> None:
                async with limit:
                    await self._arun_unit(call, unit)

            tasks = [asyncio.ensure_future(run(unit)) for unit in call.pending]
            try:
                await asyncio.gather(*tasks)
            finally:
                for task in tasks:
                    task.cancel()
        return call.finish()

    def _ready_in_time(self, call: _Call) -> bool:
        """Prepare the scorer; under a budget, only as long as the budget lasts.

        A scorer that still has a model to load loads it in the background (:meth:`Scorer.warm`)
        while the call waits for it up to its deadline: loading is part of the call, so a cold
        first call returns at its deadline, in retrieval order (``stats.loading``), rather than
        after the load. Without a budget the call loads it, as long as that takes.
        """
        left = call.time_left()
        if self.scorer.ready or left is None:
            self.scorer.prepare()
            return True
        started = time.monotonic()
        future = self.scorer.warm()
        wait([future], timeout=_load_wait(left))
        call.waited_for_load(started, done=future.done())
        if future.done():
            future.result()  # a setup error reaches the caller, as from prepare()
        return future.done()

    async def _aready_in_time(self, call: _Call) -> bool:
        """Async twin of :meth:`_ready_in_time`."""
        left = call.time_left()
        if self.scorer.ready or left is None:
            await self.scorer.aprepare()
            return True
        started = time.monotonic()
        future = asyncio.wrap_future(self.scorer.warm())
        await asyncio.wait([future], timeout=_load_wait(left))  # a timeout leaves it loading
        call.waited_for_load(started, done=future.done())
        if future.done():
            future.result()
        return future.done()

    def _run_unit(self, call: _Call, unit: list[int]) -> None:
        try:
            self._run_unit_parts(call, unit)
        except BaseException:
            call.stopped = True  # at once, from the failing worker: no further unit starts
            raise

    def _run_unit_parts(self, call: _Call, unit: list[int]) -> None:
        todo = unit
        attempt = 0
        while todo:
            part = call.admit(todo)
            if not part:
                return
            started = time.monotonic()
            try:
                with call.deadline.active():
                    out = self.scorer.score_unit(
                        call.query, call.unit_texts(part), timeout=call.time_left()
                    )
            except TransientError as exc:
                delay = call.failed(part, exc, attempt, time.monotonic() - started)
                if delay is None:
                    return
                time.sleep(delay)
                attempt += 1
                continue
            call.succeeded(part, out, time.monotonic() - started)
            todo, attempt = todo[len(part) :], 0

    async def _arun_unit(self, call: _Call, unit: list[int]) -> None:
        todo = unit
        attempt = 0
        while todo:
            part = call.admit(todo)
            if not part:
                return
            started = time.monotonic()
            left = call.time_left()
            try:
                with call.deadline.active():  # the task wait_for makes inherits it
                    coro = self.scorer.ascore_unit(call.query, call.unit_texts(part), timeout=left)
                    try:
                        out = await asyncio.wait_for(coro, left) if left is not None else await coro
                    except asyncio.TimeoutError as exc:
                        raise TimedOutError("the unit outran the budget") from exc
            except TransientError as exc:
                delay = call.failed(part, exc, attempt, time.monotonic() - started)
                if delay is None:
                    return
                await asyncio.sleep(delay)
                attempt += 1
                continue
            call.succeeded(part, out, time.monotonic() - started)
            todo, attempt = todo[len(part) :], 0


class _Call:
    """The state of one rerank call: inputs, budget clock, scores so far, counters.

    Sync and async share it, so both follow exactly the same rules.
    """

    def __init__(
        self,
        reranker: Reranker,
        query: str | None,
        texts: Sequence[str],
        retrieval_scores: Sequence[float | None] | None,
        options: RerankOptions,
    ) -> None:
        self.started = time.monotonic()
        self.scorer = reranker.scorer
        self.options = options
        self.query = _sanitize(_check_query(query, self.scorer))
        self.texts = _check_texts(texts)
        self.retrieval_scores = _check_retrieval_scores(retrieval_scores, len(self.texts))
        budget = self.options.budget_ms
        # The call's one deadline: the core's admission reads it, and each unit hands it to the
        # scorer (Deadline.active), whose own checks ask it too. Inside a ttft_budget, the query's
        # deadline (what is left of its time-to-first-token target) caps it.
        end = None if budget is None else self.started + budget / 1000.0
        target = query_deadline()
        if target is not None and target.end is not None:
            end = target.end if end is None else min(end, target.end)
        self.deadline = Deadline(end)
        self.budget_ms = None if end is None else max(0.0, (end - self.started) * 1000.0)
        # What the scorer reads: lone surrogates (invalid in UTF-8, so no tokenizer or JSON
        # encoder takes them) become U+FFFD; the result keeps the caller's own text.
        self.keys = [_sanitize(text) for text in self.texts]
        window = self.keys[: self.options.max_candidates or len(self.keys)]
        # Repeated texts are scored once; every candidate that carries one gets its score.
        self.unique: list[str] = list(dict.fromkeys(window))
        self.raw: list[float | None] = [None] * len(self.unique)
        self.scored_by: list[str | None] = [None] * len(self.unique)
        self.groups: list[int] = [0] * len(self.unique)
        self.endpoints: dict[str, dict[str, float]] = {}
        self.ranked_by: tuple[str | None, ...] = ()
        self.pending: list[list[int]] = []  # planned once the scorer is ready (plan)
        self.lock = threading.Lock()
        self.stopped = False
        self.relaxed = False
        self.budget_exhausted = False
        self.fallback_reason: str | None = None
        self.retries = 0
        self.units = 0
        self.failed_units = 0
        self.billed: dict[str, float] = {}
        self.loading = False
        self.load_wait_ms = 0.0
        self._works: list[float] | None = None

    def plan(self) -> None:
        """Split the unique texts into the scorer's units (it is ready: planning may need its
        tokenizer)."""
        self.pending = self.scorer.plan_units(self.unique)

    def waited_for_load(self, started: float, *, done: bool) -> None:
        """Record the wait for a loading scorer; not done means the budget ran out first."""
        self.load_wait_ms = (time.monotonic() - started) * 1000.0
        if not done:
            self.loading = True
            self.budget_exhausted = True

    def works(self, unit: list[int]) -> list[float]:
        """The work each text of ``unit`` costs, in the unit the scorer's cost model learns in
        (asked of the scorer once per call)."""
        if self._works is None:
            works = [float(w) for w in self.scorer.work(self.query, self.unique)]
            if len(works) != len(self.unique) or not all(
                math.isfinite(w) and w >= 0 for w in works
            ):
                raise RuntimeError(
                    f"{type(self.scorer).__name__}.work returned {len(works)} values for "
                    f"{len(self.unique)} texts; it must return one finite, non-negative work per "
                    f"text."
                )
            self._works = works
        return [self._works[i] for i in unit]

    def unit_texts(self, unit: list[int]) -> list[str]:
        return [self.unique[i] for i in unit]

    def time_left(self) -> float | None:
        return self.deadline.left()

    def admit(self, unit: list[int]) -> list[int]:
        """The leading part of ``unit`` that the time left is expected to cover (all of it
        without a budget or before the first estimate); empty when not even one text fits.

        Scoring the part that fits, rather than nothing, keeps the cost estimate measured: after
        one slow unit pushed it up, the next call still scores and brings it back down.
        """
        if self.stopped:
            return []
        left = self.time_left()
        if left is None:
            return unit
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

    def succeeded(
        self, unit: list[int], returned: UnitScores | Sequence[float | None], seconds: float
    ) -> None:
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
                mine = self.endpoints.setdefault(url, {})
                for key, value in counts.items():
                    mine[key] = mine.get(key, 0.0) + float(value)
            if out.budget_exhausted:
                self.budget_exhausted = True
            elif missing:
                self.fallback_reason = (
                    f"partial: {self.scorer.name} left {missing} of {len(unit)} texts of a unit "
                    f"unscored"
                )
            for key, value in out.billed.items():
                self.billed[key] = self.billed.get(key, 0.0) + float(value)

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
        signals = self._signals()
        scores = self._scores(signals)
        window = len(self.raw) and min(
            len(self.texts), self.options.max_candidates or len(self.texts)
        )
        position = {text: i for i, text in enumerate(self.unique)}
        scored: list[RankedText] = []
        unscored: list[RankedText] = []
        signal_of: dict[int, float] = {}
        group: dict[int, int] = {}
        ranked_by: list[str | None] = [None] * len(self.texts)
        for index, text in enumerate(self.texts):
            pos = position.get(self.keys[index]) if index < window else None
            raw = None if pos is None else self.raw[pos]
            if raw is None or pos is None:
                unscored.append(RankedText(index, text, None, None))
            else:
                scored.append(RankedText(index, text, scores[pos], raw))
                signal_of[index] = signals[pos] or 0.0
                group[index] = self.groups[pos]
                ranked_by[index] = self.scored_by[pos]
        self.ranked_by = tuple(ranked_by)
        if self.options.blend is not None and scored:
            scored = self._blended(scored, signal_of)
            signal_of = {}
        # A composite's groups (a fallback chain's scorers) lead; scores order within a group.
        # The score is a non-decreasing map of the scorer's signal (its logit, else its
        # normalised score): where the map ties two signals (a sigmoid rounding two large logits
        # to 1.0, an isotonic step), the signal breaks the tie, so a calibration never changes
        # the order; equal signals keep retrieval order.
        scored.sort(
            key=lambda it: (
                group[it.index],
                -(it.score or 0.0),
                -signal_of.get(it.index, 0.0),
                it.index,
            )
        )
        ranked = scored + unscored
        if self.options.min_score is not None:
            floor = self.options.min_score
            ranked = [it for it in ranked if it.score is None or it.score >= floor]
        if self.options.top_n is not None:
            ranked = ranked[: self.options.top_n]
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
        return RerankResult(ranked, self._stats(len(scored), len(ranked)))

    def _blended(self, scored: list[RankedText], signals: Mapping[int, float]) -> list[RankedText]:
        # The scorer's signal: the logit where there is one (no saturation), else the normalised
        # score (monotone in relevance for every kind, listwise ranks included); never the
        # calibrated score, so that a calibration never changes the blend's order.
        signal = [signals[it.index] for it in scored]
        first = [
            None if self.retrieval_scores is None else self.retrieval_scores[it.index]
            for it in scored
        ]
        prior = (
            [float(x) for x in first if x is not None]
            if all(x is not None for x in first)
            else [-float(it.index) for it in scored]  # no scores: the retrieval order itself
        )
        weight = self.options.blend or 0.0
        blended = blend_scores(signal, prior, weight)
        return [
            RankedText(it.index, it.text, value, it.raw_score)
            for it, value in zip(scored, blended, strict=True)
        ]

    def _signals(self) -> list[float | None]:
        """Each unique text's signal (what a calibration maps: the logit of a
        logit scorer, else its normalised score); ``None`` where unscored."""
        have = [i for i, raw in enumerate(self.raw) if raw is not None]
        kind = Normalization(self.scorer.normalization).value
        values = signal_of(kind, [self.raw[i] or 0.0 for i in have])
        out: list[float | None] = [None] * len(self.raw)
        for i, value in zip(have, values, strict=True):
            out[i] = value
        return out

    def _scores(self, signals: list[float | None]) -> list[float | None]:
        """The scores users see: P(relevant) where the scorer has a calibration, else the
        normalised scores, on the scorer's own scale."""
        calibration = self.scorer.calibration
        if calibration is not None:
            return [None if s is None else calibration.apply([s])[0] for s in signals]
        if self.scorer.normalization is Normalization.SIGMOID:
            return [
                None if s is None else normalize(Normalization.SIGMOID, [s])[0] for s in signals
            ]
        return list(signals)  # already the normalised score

    def _stats(self, scored: int, returned: int) -> RerankStats:
        return RerankStats(
            backend=self.scorer.backend,
            model=self.scorer.model,
            candidates_in=len(self.texts),
            scored=scored,
            returned=returned,
            latency_ms=(time.monotonic() - self.started) * 1000.0,
            budget_ms=self.budget_ms,
            budget_exhausted=self.budget_exhausted,
            fallback_reason=self.fallback_reason,
            retries=self.retries,
            units=self.units,
            failed_units=self.failed_units,
            billed=dict(self.billed),
            runtime=_runtime_of(self.scorer),
            loading=self.loading,
            load_wait_ms=self.load_wait_ms,
            ranked_by=self.ranked_by,
            endpoints={url: dict(counts) for url, counts in self.endpoints.items()},
        )


def _load_wait(left: float) -> float:
    """How long a call with ``left`` seconds waits for a loading scorer: the time left less a
    guard of a tenth of it (at most 50 ms). The loading thread imports and builds a model, and
    holds the GIL for long stretches while it does: a waiter woken at the deadline gets it back
    late, so it is woken a little early. A model ready in the guard's last moments would leave no
    time to score anyway."""
    return max(0.0, left - min(0.1 * left, 0.05))


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


def _runtime_of(scorer: Scorer) -> str | None:
    runtime = getattr(scorer, "runtime", None)
    return runtime if isinstance(runtime, str) else None


def _check_query(query: object, scorer: Scorer) -> str:
    if query is None:
        raise InvalidInputError(
            f"{type(scorer).__name__} needs a query to rerank against, got None; "
            f"pass the user's question as a non-empty string (in LlamaIndex, a QueryBundle)."
        )
    if not isinstance(query, str):
        raise InvalidInputError(
            f"The query must be a string, got {type(query).__name__}: {query!r}."
        )
    if not query.strip():
        raise InvalidInputError(
            f"The query is blank ({query!r}); pass the user's question as a non-empty string."
        )
    return query


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Sequence):
        raise InvalidInputError(
            f"Candidates must be a sequence of strings in retrieval order, got "
            f"{type(texts).__name__}; wrap a single text in a list."
        )
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise InvalidInputError(
                f"Candidate {i} must be a string, got {type(text).__name__}: {text!r:.80}."
            )
    return out


def _check_retrieval_scores(
    scores: Sequence[float | None] | None, n: int
) -> list[float | None] | None:
    if scores is None:
        return None
    out = list(scores)
    if len(out) != n:
        raise InvalidInputError(
            f"retrieval_scores has {len(out)} entries for {n} candidates; pass one first-stage "
            f"score (or None) per candidate, or leave it out."
        )
    for i, value in enumerate(out):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InvalidInputError(
                f"retrieval_scores[{i}] must be a number or None, got {value!r:.80}."
            )
        if value is not None and not math.isfinite(value):
            out[i] = None  # NaN or +-inf carries no order: it counts as missing
    return out


def _sanitize(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (what every UTF-8 codec can carry)."""
    if text.isascii():
        return text
    return _SURROGATES.sub("\ufffd", text)


def blend_scores(signal: Sequence[float], prior: Sequence[float], weight: float) -> list[float]:
    """Blend a reranker's signal with the first stage's, per query, into ``[0, 1]``.

    Both are standardised over the query's scored candidates (z-scores: subtract the mean, divide
    by the standard deviation; a constant list gives zeros), mixed as
    ``(1 - weight) * z(signal) + weight * z(prior)``, and mapped onto ``[0, 1]`` with the
    sigmoid, so the order is the blend's and the score stays a relevance-like number.

    >>> [round(x, 3) for x in blend_scores([2.0, 0.0], [0.0, 1.0], 0.0)]
    [0.731, 0.269]
    >>> blend_scores([2.0, 0.0], [0.0, 1.0], 0.5)
    [0.5, 0.5]
    """
    zs, zp = _zscores(signal), _zscores(prior)
    return [
        normalize(Normalization.SIGMOID, [(1.0 - weight) * a + weight * b])[0]
        for a, b in zip(zs, zp, strict=True)
    ]


def _zscores(values: Sequence[float]) -> list[float]:
    n = len(values)
    # Scaled first, so that values near the float limit (1e308) cannot overflow into NaN.
    scale = max((abs(v) for v in values), default=0.0)
    if scale == 0 or not math.isfinite(scale):
        return [0.0] * n
    scaled = [v / scale for v in values]
    mean = sum(scaled) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in scaled) / n)
    return [0.0 if sd == 0 else (v - mean) / sd for v in scaled]
