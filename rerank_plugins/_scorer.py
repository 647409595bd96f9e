"""The one small interface every scorer implements.

A scorer turns ``(query, texts)`` into one raw float per text, nothing more. Ordering, ties,
``top_n``, ``max_candidates``, ``min_score``, the budget loop, retries, fallback and stats live in
the core (:mod:`rerank_plugins._core`), written once.

The core calls a scorer in *units* (a batch of a local model, one API request, one LLM call or
window) so that the budget can stop between units:

1. :meth:`Scorer.plan` splits the texts into units, each with the work its texts are expected
   to cost (:class:`Unit`), in one call: the core's budget admits units from it (default: built
   from :meth:`Scorer.plan_units`, consecutive chunks of :attr:`Scorer.unit_size`, and
   :meth:`Scorer.work`, one per text);
2. :meth:`Scorer.score_unit` / :meth:`Scorer.ascore_unit` score one unit, given the time left in
   the call as ``timeout``: the one channel the call's deadline reaches a scorer on (a scorer
   makes its deadline with ``Deadline.after(timeout)`` and passes the time left on, as a
   ``timeout`` again, to what it calls); a failure worth retrying raises
   :class:`~rerank_plugins.TransientError`, a setup problem a
   :class:`~rerank_plugins.ConfigurationError`;
3. :attr:`Scorer.normalization` tells the core how to map raw scores onto ``[0, 1]``, and
   :attr:`Scorer.calibration`, where one is set, maps them to P(relevant) instead.
"""

from __future__ import annotations

import asyncio
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import Enum
from typing import ClassVar, TypeVar

from rerank_plugins._calibration import Calibration, CalibrationLike, resolve_calibration
from rerank_plugins._cost import CostModel

__all__ = ["Normalization", "Scorer", "Unit", "UnitScores", "normalize"]

_S = TypeVar("_S", bound="Scorer")


class Normalization(str, Enum):
    """How the core maps a scorer's raw scores onto a relevance in ``[0, 1]``."""

    SIGMOID = "sigmoid"
    """Raw scores are logits (a single-logit cross-encoder, or the logit difference of a
    two-class one, whose sigmoid is the positive-class probability)."""

    IDENTITY = "identity"
    """Raw scores already are relevances in ``[0, 1]`` (the hosted APIs' ``relevance_score``, a
    pointwise LLM grade mapped onto the scale); clamped to ``[0, 1]``."""

    RANK = "rank"
    """Raw scores are 0-based ranks among the texts scored (listwise LLM): relevance is
    ``1 - rank / n``, so it carries order only."""


def normalize(kind: Normalization, raw: Sequence[float]) -> list[float]:
    """Map raw scores onto ``[0, 1]`` as plain Python floats.

    >>> normalize(Normalization.SIGMOID, [0.0])
    [0.5]
    >>> normalize(Normalization.RANK, [1, 0])
    [0.5, 1.0]
    """
    if kind is Normalization.SIGMOID:
        return [_sigmoid(float(x)) for x in raw]
    if kind is Normalization.IDENTITY:
        return [min(1.0, max(0.0, float(x))) for x in raw]
    n = len(raw)
    return [1.0 - float(x) / n for x in raw]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


@dataclass(frozen=True)
class UnitScores:
    """What one unit returns.

    Attributes:
        scores: One raw score per text of the unit, in the unit's order; ``None`` for a text the
            backend could not score (it stays unscored; nothing is lost).
        billed: What the backend billed for the unit, e.g. ``{"search_units": 1}`` or
            ``{"total_tokens": 812}``; summed into the call's stats.
        budget_exhausted: ``True`` when the scorer left texts unscored because the ``timeout``
            it was given could not cover them (the call's result then says the budget ran out);
            other ``None`` scores are reported as a partial failure.
        scored_by: For a composite scorer (a fallback chain), the name of the scorer that scored
            each text (``None`` for an unscored one); default: this scorer. The call's stats
            report it per candidate (``RerankStats.ranked_by``).
        groups: For a composite scorer whose texts were scored on different scales, a group
            per text: scored candidates sort by group first (lowest leads), then by score, so
            scores of different groups are never compared. Default: one group.
        endpoints: What each endpoint of a replica set did for this unit (``{url: {counter:
            value}}``: requests, errors, hedges, ejections, latency); summed into the call's
            stats (``RerankStats.endpoints``).
    """

    scores: Sequence[float | None]
    billed: Mapping[str, float] = field(default_factory=dict)
    budget_exhausted: bool = False
    scored_by: Sequence[str | None] | None = None
    groups: Sequence[int] | None = None
    endpoints: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Unit:
    """One unit of a call's plan (:meth:`Scorer.plan`): which texts, and what each costs.

    Attributes:
        indices: Positions of the unit's texts among the texts planned, in scoring order.
        work: The work each of those texts is expected to cost, in the unit the scorer's
            :attr:`~rerank_plugins.Scorer.cost` model learns in (finite, non-negative; one per
            index).

    >>> Unit([0, 1], [1.0, 1.0]).total
    2.0
    """

    indices: Sequence[int]
    work: Sequence[float]

    @property
    def total(self) -> float:
        """The unit's expected work, all its texts together."""
        return float(sum(self.work))


class Scorer(ABC):
    """Base class of every scorer: ``(query, texts) -> one raw float per text``.

    A scorer is one method: :meth:`score_unit`, returning one raw score per text (a list of
    floats is enough). Everything else has a default: :attr:`backend` and :attr:`model` name it
    in stats and metadata, :attr:`normalization` says what the raw scores are (logits by
    default), :attr:`unit_size`, :attr:`max_concurrency` and :attr:`max_retries` bound the work
    of one call, and :meth:`ascore_unit` runs :meth:`score_unit` in a worker thread unless a
    backend with a native async client overrides it. A scorer is shared freely between threads,
    event loops and adapters; it keeps no per-call state. See "Write your own scorer" in the
    docs.

    Ownership: a scorer owns what it creates (a model it loads, its HTTP clients, its worker
    threads) and releases them in :meth:`close` / :meth:`aclose`, or at the end of a ``with`` /
    ``async with`` block; what the caller passes in (a loaded model, an LLM object) stays the
    caller's. Copies share the scorer: ``copy.copy`` and ``copy.deepcopy`` return the scorer
    itself (as :class:`~rerank_plugins.scorers.hosted.Secret` does), so a framework that deep
    copies a pipeline keeps one model and one set of clients, with one owner.

    Example:
        >>> from rerank_plugins import Reranker
        >>> from rerank_plugins.testing import KeywordScorer
        >>> Reranker(KeywordScorer(), top_n=1).rerank("cats", ["dogs", "cats"]).items[0].text
        'cats'

    Args:
        calibration: A calibration for this scorer (a path to a file written by
            ``rerank-plugins calibrate``, a :class:`~rerank_plugins.Calibration`, or ``None``):
            see :attr:`calibration`. A subclass with its own ``__init__`` takes the same keyword
            and assigns ``self.calibration = calibration`` once its model is known.
    """

    backend: ClassVar[str] = "scorer"
    """The backend's name in stats, metadata and specs (``"cross-encoder"``, ``"cohere"``, ...)."""
    normalization: Normalization = Normalization.SIGMOID
    """What the raw scores are, so the core can map them to relevances in [0, 1] for
    ``min_score`` (:class:`~rerank_plugins.Normalization`)."""
    unit_size: int = 32
    """Texts per unit in the default :meth:`plan`."""
    max_concurrency: int = 1
    """Units that may be in flight at once within one call."""
    max_retries: int = 2
    """Retries of a unit after a :class:`~rerank_plugins.TransientError`, within the budget."""

    learns_own_cost: ClassVar[bool] = False
    """Whether the scorer feeds its :attr:`cost` model itself, at a finer grain than a unit (the
    local model per forward pass, the LLM judge per call); the core then does not add each
    unit's time as well (a unit that waited for a shared pass would count the wait as work)."""

    admits_own_work: ClassVar[bool] = False
    """Whether the scorer admits its own work under the deadline it hears as ``timeout``, at a
    finer grain than a unit (the local model's micro-batcher, per forward pass), leaving out what
    would end late as ``None``. The core then hands it each unit whole rather than asking the
    cost model about the same work first, and starts no later unit once one comes back short."""

    _cost_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, *, calibration: CalibrationLike = None) -> None:
        self.calibration = calibration

    @property
    def calibration(self) -> Calibration | None:
        """The map from this scorer's raw scores to P(relevant), or ``None``.

        With one, the normalised score (``relevance_score``) is the calibrated probability and
        ``min_score`` is a probability; the raw score stays as it was, and the order never
        changes. Without one, the score is on the scorer's own scale. Assign a path, a
        :class:`~rerank_plugins.Calibration` or ``None``; a calibration fit for another backend,
        model or kind of raw score, or a file that cannot be read, is refused with a
        :class:`~rerank_plugins.ConfigurationError` naming the file. Whether a scorer is
        calibrated is ``scorer.calibration is not None``.
        """
        cal = self.__dict__.get("_calibration")
        return cal if isinstance(cal, Calibration) else None

    @calibration.setter
    def calibration(self, value: CalibrationLike) -> None:
        self.__dict__["_calibration"] = resolve_calibration(
            value,
            backend=self.backend,
            model=self.model,
            normalization=Normalization(self.normalization).value,
            who=type(self).__name__,
        )

    @property
    def model(self) -> str:
        """The model (or endpoint) name, as reported in stats and metadata (default: the
        scorer's class name)."""
        return type(self).__name__

    @property
    def name(self) -> str:
        """``backend:model``, the value of the ``reranker`` metadata key."""
        return f"{self.backend}:{self.model}"

    @property
    def cost(self) -> CostModel:
        """The scorer's one cost model: what the core's budget loop, and the scorer's own
        checks inside a unit, ask whether work still fits (learned state, shared by every call
        on this scorer)."""
        est = self.__dict__.get("_cost")
        if est is None:
            with Scorer._cost_lock:
                est = self.__dict__.setdefault("_cost", CostModel())
        return est  # type: ignore[no-any-return]

    def work(self, query: str, texts: Sequence[str]) -> list[float]:
        """The work each text costs, in the unit the :attr:`cost` model learns in (default: 1
        per text). A scorer whose texts cost very different amounts says so here (the local
        cross-encoder: its tokens and windows), so the budget can tell a long text from a short
        one; it must be cheap (no model call)."""
        return [1.0] * len(texts)

    def plan_units(self, texts: Sequence[str]) -> list[list[int]]:
        """Split ``texts`` into units, as lists of positions, in the order to score them (a part
        of the default :meth:`plan`)."""
        size = max(1, self.unit_size)
        return [list(range(i, min(i + size, len(texts)))) for i in range(0, len(texts), size)]

    def plan(self, query: str, texts: Sequence[str]) -> list[Unit]:
        """The call's units, in the order to score them, each with its texts' expected work.

        The core asks it once per call, when the scorer is ready (planning may need its
        tokenizer), and admits each unit under the budget from the work it states. The default
        joins :meth:`plan_units` (which texts) and :meth:`work` (what each costs); override
        either of them, or this method where one pass over the texts gives both.

        >>> from rerank_plugins.testing import KeywordScorer
        >>> KeywordScorer().plan("q", ["a", "b"])
        [Unit(indices=[0, 1], work=[1.0, 1.0])]
        """
        work = [float(w) for w in self.work(query, texts)]
        if len(work) != len(texts):
            raise RuntimeError(
                f"{type(self).__name__}.work returned {len(work)} values for {len(texts)} texts; "
                f"it must return one finite, non-negative work per text."
            )
        return [Unit(unit, [work[i] for i in unit]) for unit in self.plan_units(texts)]

    def prepare(self) -> None:
        """Load what the first unit needs (a model, a client). Called by the core before its
        budget loop; call it yourself at start-up to keep the load out of the first request."""
        return None

    async def aprepare(self) -> None:
        """Async twin of :meth:`prepare`; runs it in a worker thread by default."""
        await asyncio.to_thread(self.prepare)

    @property
    def ready(self) -> bool:
        """Whether :meth:`prepare` has nothing slow left to do (a model is loaded).

        ``True`` by default (a client is made in no time); a scorer that loads a model says
        ``False`` until it has. A budgeted call on a scorer that is not ready does not load
        inside its budget: it starts :meth:`warm` and waits for it only as long as the budget
        lasts (see the stats' ``loading``).
        """
        return True

    def warm(self) -> Future[None]:
        """Start :meth:`prepare` in a background thread (once) and return its future.

        The framework adapters call it when they are built with a scorer that is not
        :attr:`ready`, so the model loads while the application starts; a budgeted call waits
        for it only as long as its budget lasts. A warm-up that failed is started again by the
        next call (its error is raised to the call that waits for it).

        Example:
            >>> from rerank_plugins.testing import KeywordScorer
            >>> KeywordScorer().warm().result() is None
            True
        """
        with Scorer._cost_lock:
            future: Future[None] | None = self.__dict__.get("_warming")
            if future is None or (future.done() and future.exception() is not None):
                future = Future()
                self.__dict__["_warming"] = future
                threading.Thread(
                    target=_prepare_into, args=(self, future), name="rerank-warm", daemon=True
                ).start()
        return future

    @abstractmethod
    def score_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores | Sequence[float | None]:
        """Score one unit.

        Args:
            query: The query, already validated (non-blank).
            texts: The unit's texts.
            timeout: Seconds left in the call's budget, or ``None`` for no budget: the call's
                deadline, on the one channel it travels on. An API request uses it as its
                timeout; a scorer that checks the time more than once makes
                ``Deadline.after(timeout)`` at its start and hands ``deadline.left()`` on.

        Returns:
            One raw score per text, in order (``None`` for a text left unscored): a plain list,
            or :class:`UnitScores` to also report what was billed or that the time ran out.

        Raises:
            TransientError: a failure worth retrying.
            ConfigurationError: a setup problem; raised to the caller at once.
        """

    async def ascore_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores | Sequence[float | None]:
        """Async twin of :meth:`score_unit`; runs it in a worker thread unless overridden, so a
        local model never blocks the event loop."""
        return await asyncio.to_thread(self.score_unit, query, texts, timeout=timeout)

    # -- sharing and releasing ---------------------------------------------------------------
    def __copy__(self) -> Scorer:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Scorer:
        return self  # the model, clients and learned cost are shared, never duplicated

    def close(self) -> None:
        """Release what the scorer created (clients, worker threads, a model it loaded); a
        later call creates them again. Call it when no call is in flight. Default: nothing
        to release."""
        return None

    async def aclose(self) -> None:
        """Async twin of :meth:`close`; also releases what belongs to the running event loop
        (a hosted scorer's async client). Default: :meth:`close`."""
        self.close()

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self: _S) -> _S:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"


def _prepare_into(scorer: Scorer, future: Future[None]) -> None:
    """Run ``scorer.prepare()`` and settle ``future`` with its outcome (a warm-up thread)."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        scorer.prepare()
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(None)
