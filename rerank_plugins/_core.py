"""The scoring core: every rule of the rerank contract, written once.

:class:`Reranker` wraps a :class:`~rerank_plugins.Scorer` with the options every entry point shares
(``top_n``, ``max_candidates``, ``min_score``, ``budget_ms``, ``on_error``, ``blend``) and turns
``(query, texts)`` into a :class:`RerankResult`: the ranked candidates and the call's stats. The
framework adapters are thin layers over it. This module imports no third-party package.

Where each part lives, read top-down:

- :mod:`rerank_plugins._options`: the options, declared once, and a call's overrides;
- :mod:`rerank_plugins._results`: what a call returns (results, stats, metadata);
- :mod:`rerank_plugins._inputs`: the checks of a call's inputs;
- :mod:`rerank_plugins._ranking`: the ranking rules (normalise, blend, order, cut), pure;
- :mod:`rerank_plugins._call`: one call's state, its deadline, admission, retries and result;
- :mod:`rerank_plugins._schedule`: how a call's units run, sync or async.

Following ``budget_ms``: :class:`~rerank_plugins._call.Call` turns it into the call's one
deadline; each unit's ``score_unit(..., timeout=...)`` gets the seconds left of it, and that
argument is the only channel the deadline reaches a scorer on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rerank_plugins._call import Call
from rerank_plugins._options import (
    OPTION_DOCS,
    OPTION_NAMES,
    OnError,
    RerankOptions,
    for_call,
)
from rerank_plugins._options import (
    UNSET as _UNSET,
)
from rerank_plugins._ranking import blend_scores
from rerank_plugins._results import (
    METADATA_KEYS,
    RankedText,
    RerankResult,
    RerankStats,
    candidate_metadata,
)
from rerank_plugins._schedule import aready_in_time, arun_units, ready_in_time, run_units
from rerank_plugins._scorer import Scorer

__all__ = [
    "METADATA_KEYS",
    "OPTION_DOCS",
    "OPTION_NAMES",
    "OnError",
    "RankedText",
    "RerankOptions",
    "RerankResult",
    "RerankStats",
    "Reranker",
    "blend_scores",
    "candidate_metadata",
]


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
        call = self._call(query, texts, retrieval_scores, top_n, budget_ms)
        if call.unique and ready_in_time(call):
            call.plan()
        if call.pending:
            run_units(call)
        return call.finish()

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
        call = self._call(query, texts, retrieval_scores, top_n, budget_ms)
        if call.unique and await aready_in_time(call):
            call.plan()
        if call.pending:
            await arun_units(call)
        return call.finish()

    def _call(
        self,
        query: str | None,
        texts: Sequence[str],
        retrieval_scores: Sequence[float | None] | None,
        top_n: int | None,
        budget_ms: float | None,
    ) -> Call:
        """One call's state, under this reranker's options with the call's overrides: what
        :meth:`rerank` and :meth:`arerank` share (they differ only in how the units run)."""
        return Call(
            self.scorer, query, texts, retrieval_scores, for_call(self.options, top_n, budget_ms)
        )
