"""What a call returns: the ranked candidates (:class:`RankedText`), the call's stats
(:class:`RerankStats`), both together (:class:`RerankResult`), and the metadata every framework
adapter sets on a returned node or document (:data:`METADATA_KEYS`, :func:`candidate_metadata`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["METADATA_KEYS", "RankedText", "RerankResult", "RerankStats", "candidate_metadata"]

METADATA_KEYS = (
    "relevance_score",
    "rerank_raw_score",
    "retrieval_score",
    "retrieval_rank",
    "reranker",
    "rerank_scored",
)
"""The metadata keys both framework adapters set on every returned node or document."""


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
