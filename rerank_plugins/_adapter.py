"""The fields both framework adapters share, declared once.

LlamaIndex's node postprocessors and LangChain's document compressors are both pydantic models, so
the adapters inherit their constructor arguments, defaults, validation and serialisation from this
one mixin: a user who moves a pipeline between frameworks passes exactly the same arguments.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_serializer, model_validator

from rerank_plugins._core import OnError, Reranker, RerankOptions
from rerank_plugins._scorer import Scorer

__all__ = ["RerankFields"]


class RerankFields(BaseModel):
    """The contract's options as pydantic fields, and the core :class:`Reranker` built from them."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    scorer: Scorer = Field(description="The scorer that reads query and passage together.")
    top_n: int | None = Field(default=None, description="How many to return; None: all.")
    max_candidates: int | None = Field(
        default=None, description="Score only this many, in retrieval order; the rest follow."
    )
    min_score: float | None = Field(
        default=None, description="Drop scored candidates below this normalised score."
    )
    budget_ms: float | None = Field(default=None, description="Wall-clock budget per call (ms).")
    on_error: OnError = Field(
        default="fallback", description="'fallback' or 'raise' on transient failures."
    )
    blend: float | None = Field(
        default=None, description="Weight of the first-stage score in the final order (0-1)."
    )

    _reranker: Reranker = PrivateAttr()

    @model_validator(mode="before")
    @classmethod
    def _check_options(cls, values: Any) -> Any:
        if isinstance(values, dict):
            RerankOptions.pick(values)  # same rules and messages as every entry point
        return values

    def model_post_init(self, context: Any, /) -> None:
        super().model_post_init(context)
        self._reranker = Reranker(
            self.scorer,
            top_n=self.top_n,
            max_candidates=self.max_candidates,
            min_score=self.min_score,
            budget_ms=self.budget_ms,
            on_error=self.on_error,
            blend=self.blend,
        )

    @field_serializer("scorer")
    def _serialize_scorer(self, scorer: Scorer) -> dict[str, str]:
        # Never the scorer object itself: it may hold a client and a key.
        return {"class": type(scorer).__name__, "backend": scorer.backend, "model": scorer.model}
