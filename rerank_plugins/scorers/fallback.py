"""A chain of scorers: when one fails or cannot fit in the time left, the next one scores.

:class:`FallbackScorer` runs its scorers in order, each through the core's own budget loop (units,
retries, cost model), on the candidates still unscored, with what is left of the call's
deadline:

* scorer *i* gets the deadline less what the next scorer is expected to need for the candidates
  still unscored (learned by that scorer's cost model, with its margin; before it has measured
  anything, half of what is left) and less the handover's own slack (5% of what is left, at
  least 50 ms: a request that hangs is cut a little after its deadline on a busy machine, which
  the next scorer's cost model does not measure), so a hosted API that hangs leaves the local
  model its time; the last scorer gets all that is left;
* what scorer *i* leaves unscored (a transient failure after its retries, a budget it could not
  fit) goes to scorer *i + 1*; after the last one, it stays unscored, in retrieval order;
* configuration errors (a rejected key, a missing extra) are raised, never handed over: a chain
  must not hide a broken setup.

**The merge rule.** Scores of different scorers are on different scales, so they are merged into
one order only when every scorer of the chain is calibrated (it has a ``calibration``: its score
is then P(relevant), comparable across scorers). Otherwise the first scorer's scored candidates
lead, in its order, and each later scorer's follow in its own order (the core sorts by the
scorer's place in the chain first: :attr:`~rerank_plugins.UnitScores.groups`). Each candidate's
score is the normalised score of the scorer that ranked it, and the call's stats name that
scorer (:attr:`~rerank_plugins.RerankStats.ranked_by`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from typing import ClassVar

from rerank_plugins._core import Reranker, RerankResult
from rerank_plugins._deadline import Deadline
from rerank_plugins._exceptions import ConfigurationError, TransientError
from rerank_plugins._scorer import Normalization, Scorer, UnitScores

__all__ = ["FallbackScorer"]

logger = logging.getLogger("rerank_plugins")


class FallbackScorer(Scorer):
    """Scores with the first scorer that can, handing what is left down the chain.

    Args:
        scorers: The chain, best first (e.g. a hosted API, then the local cross-encoder). At
            least two; the chain owns them (:meth:`close` closes those that can be closed).

    Raises:
        ConfigurationError: fewer than two scorers, something that is not a scorer, or the same
            scorer twice.

    Example:
        >>> from rerank_plugins import Reranker
        >>> from rerank_plugins.testing import KeywordScorer
        >>> from rerank_plugins.testing.server import RerankServer
        >>> with RerankServer() as server:
        ...     down = server.scorer_for("tei", key=server.key_for("http_503"), max_retries=0)
        ...     chain = FallbackScorer([down, KeywordScorer()])
        ...     result = Reranker(chain, top_n=1).rerank("cats", ["dogs", "cats"])
        >>> result.items[0].text, result.stats.ranked_by
        ('cats', ('keyword:word-overlap', 'keyword:word-overlap'))
    """

    backend: ClassVar[str] = "fallback"
    normalization: Normalization = Normalization.IDENTITY  # each scorer's normalised score
    learns_own_cost: ClassVar[bool] = True  # each scorer of the chain learns its own
    max_concurrency: int = 1
    max_retries: int = 0  # each scorer retries inside its own turn

    def __init__(self, scorers: Sequence[Scorer]) -> None:
        if isinstance(scorers, (str, bytes)) or not isinstance(scorers, Sequence):
            raise ConfigurationError(
                f"FallbackScorer needs a list of scorers, got {type(scorers).__name__}; pass "
                f"e.g. [CohereScorer(), CrossEncoderScorer('bundled:scifact-minilm')]."
            )
        chain = list(scorers)
        if len(chain) < 2:
            raise ConfigurationError(
                f"FallbackScorer needs at least two scorers, got {len(chain)}; pass e.g. "
                f"[CohereScorer(), CrossEncoderScorer('bundled:scifact-minilm')] (a single "
                f"scorer needs no chain)."
            )
        for s in chain:
            if not isinstance(s, Scorer):
                raise ConfigurationError(
                    f"FallbackScorer chains rerank_plugins scorers, got {type(s).__name__}; pass "
                    f"e.g. CrossEncoderScorer(...)."
                )
        if len({id(s) for s in chain}) < len(chain):
            raise ConfigurationError(
                "FallbackScorer got the same scorer twice; list each scorer once (a scorer "
                "already retries within its own turn: raise its max_retries instead)."
            )
        self.scorers: list[Scorer] = chain

    @property
    def model(self) -> str:
        return " > ".join(s.name for s in self.scorers)

    def __repr__(self) -> str:
        return f"FallbackScorer({self.scorers!r})"

    @property
    def calibrated(self) -> bool:
        """Whether every scorer of the chain is calibrated, so their scores merge into one
        order (the hook of the merge rule: a scorer with a ``calibration`` returns
        P(relevant))."""
        return all(getattr(s, "calibration", None) is not None for s in self.scorers)

    def plan_units(self, texts: Sequence[str]) -> list[list[int]]:
        # One unit: each scorer of the chain splits it into its own units, under its own rules.
        return [list(range(len(texts)))] if texts else []

    # -- resources -----------------------------------------------------------------------
    def prepare(self) -> None:
        """Prepare every scorer of the chain (load the local model, build clients), so a
        handover never pays a cold start inside the budget."""
        for s in self.scorers:
            s.prepare()

    async def aprepare(self) -> None:
        for s in self.scorers:
            await s.aprepare()

    def close(self) -> None:
        """Close every scorer of the chain that holds clients."""
        for s in self.scorers:
            closer = getattr(s, "close", None)
            if callable(closer):
                closer()

    async def aclose(self) -> None:
        """Close every scorer's async clients of the running event loop."""
        for s in self.scorers:
            closer = getattr(s, "aclose", None)
            if callable(closer):
                await closer()

    async def __aexit__(self, *exc: object) -> None:
        """Close the running loop's async clients, then the sync ones (off the loop)."""
        await self.aclose()
        await asyncio.to_thread(self.close)

    # -- scoring -------------------------------------------------------------------------
    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        turn = _Turns(self, query, texts, Deadline.after(timeout))
        for i, scorer, budget_ms in turn.stages():
            turn.absorb(i, Reranker(scorer, budget_ms=budget_ms).rerank(query, turn.todo_texts()))
        return turn.finish()

    async def ascore_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores:
        turn = _Turns(self, query, texts, Deadline.after(timeout))
        for i, scorer, budget_ms in turn.stages():
            result = await Reranker(scorer, budget_ms=budget_ms).arerank(query, turn.todo_texts())
            turn.absorb(i, result)
        return turn.finish()


_HANDOVER_SHARE = 0.05
_HANDOVER_MIN_S = 0.05
"""The handover's slack: a scorer cut at its deadline returns a little late on a busy machine
(a timeout fires late, a thread wakes late), and the next scorer's cost model never sees that."""


class _Turns:
    """One unit's way down the chain: who scored what, and what is left."""

    def __init__(
        self, chain: FallbackScorer, query: str, texts: Sequence[str], deadline: Deadline
    ) -> None:
        self.chain = chain
        self.query = query
        self.texts = list(texts)
        self.deadline = deadline
        self.todo = list(range(len(self.texts)))
        self.scores: list[float | None] = [None] * len(self.texts)
        self.by: list[str | None] = [None] * len(self.texts)
        self.groups = [0] * len(self.texts)
        self.billed: dict[str, float] = {}
        self.endpoints: dict[str, dict[str, float]] = {}
        self.failures: list[str] = []
        self.budget_exhausted = False

    def todo_texts(self) -> list[str]:
        return [self.texts[j] for j in self.todo]

    def stages(self) -> Iterator[tuple[int, Scorer, float | None]]:
        """The scorers still to run, each with its budget in ms (``None``: no deadline); read
        lazily, after the previous one's result was absorbed."""
        chain = self.chain.scorers
        for i, scorer in enumerate(chain):
            if not self.todo:
                return
            left = self.deadline.left()
            if left is None:
                yield i, scorer, None
                continue
            if left <= 0:
                self.budget_exhausted = True
                return
            last = i + 1 == len(chain)
            mine = left if last else left - self._reserve(chain[i + 1], left)
            if mine * 1000.0 < 1.0:  # this scorer cannot fit: hand over at once
                self.failures.append(f"{scorer.name}: no time left for it")
                continue
            yield i, scorer, mine * 1000.0

    def _reserve(self, after: Scorer, left: float) -> float:
        """What the next scorer is expected to need for what is still unscored, with the
        handover's slack."""
        work = sum(unit.total for unit in after.plan(self.query, self.todo_texts()))
        expected = after.cost.expected(work)
        if expected is None:
            return left / 2.0  # nothing measured yet: share what is left
        slack = max(_HANDOVER_MIN_S, _HANDOVER_SHARE * left)
        return min(left, expected * after.cost.margin + slack)

    def absorb(self, i: int, result: RerankResult) -> None:
        scorer = self.chain.scorers[i]
        group = 0 if self.chain.calibrated else i
        left: list[int] = []
        for item in result.items:
            j = self.todo[item.index]
            if item.score is None:
                left.append(j)
                continue
            self.scores[j] = item.score
            self.by[j] = scorer.name
            self.groups[j] = group
        stats = result.stats
        for key, value in stats.billed.items():
            self.billed[key] = self.billed.get(key, 0.0) + float(value)
        for url, counts in stats.endpoints.items():
            mine = self.endpoints.setdefault(url, {})
            for key, value in counts.items():
                mine[key] = mine.get(key, 0.0) + float(value)
        if stats.fallback_reason:
            self.failures.append(f"{scorer.name}: {stats.fallback_reason}")
        self.budget_exhausted = stats.budget_exhausted
        self.todo = sorted(left)
        if self.todo and i + 1 < len(self.chain.scorers):
            logger.warning(
                "%s left %d candidate(s) unscored (%s); %s scores them next",
                scorer.name,
                len(self.todo),
                stats.fallback_reason or "the time it had ran out",
                self.chain.scorers[i + 1].name,
            )

    def finish(self) -> UnitScores:
        failed = bool(self.failures) and not self.budget_exhausted
        if self.texts and failed and all(s is None for s in self.scores):
            raise TransientError(
                "FallbackScorer: every scorer of the chain failed: " + "; ".join(self.failures),
                reason="fallback_chain_failed",
            )
        return UnitScores(
            self.scores,
            self.billed,
            budget_exhausted=bool(self.todo) and self.budget_exhausted,
            scored_by=self.by,
            groups=self.groups,
            endpoints=self.endpoints,
        )
