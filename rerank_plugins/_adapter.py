"""The fields both framework adapters share, declared once.

LlamaIndex's node postprocessors and LangChain's document compressors are both pydantic models, so
the adapters inherit their constructor arguments, defaults, validation and serialisation from this
one mixin: a user who moves a pipeline between frameworks passes exactly the same arguments.

Options are live and strict: an unknown name (``topn=3``) is an error, assigning an option after
construction is validated with the core's rules and takes effect on the next call, and the core
:class:`Reranker` is built from the current values at every call (it is a few attribute reads; the
scorer, which holds the model, the clients and the learned cost, is shared).

Copies share the scorer: ``copy.deepcopy`` and pydantic's ``model_copy(deep=True)`` copy the
options and keep the one scorer (a scorer's deep copy is itself), so the copy works and nothing
is loaded or opened twice. The adapter does not own the scorer: closing it is the job of
whoever made it (``with scorer:`` or ``scorer.close()``). Pickling works when the scorer
pickles, and otherwise is refused at once with a :class:`TypeError` that says why (a model, a
client or a lock does not travel): never an adapter that unpickles without its scorer.

A spec string is built into a scorer before pydantic validates the arguments, so a spec that
cannot be built raises the package's own error, as building the scorer directly does
(``RerankCompressor(scorer="cohere")`` without a key: :class:`~rerank_plugins.AuthenticationError`;
an unknown backend: :class:`~rerank_plugins.ConfigurationError`). Assigning a spec later
(``post.scorer = "cohere"``) raises the same error.
"""

from __future__ import annotations

import pickle
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from rerank_plugins._core import OPTION_DOCS, OPTION_NAMES, Reranker, RerankOptions
from rerank_plugins._scorer import Scorer

__all__ = ["RerankFields"]


class RerankFields(BaseModel, RerankOptions):
    """The contract's options as pydantic fields, and the core :class:`Reranker` built from them.

    Args:
        scorer: What scores ``(query, texts)``: a scorer, e.g. ``CrossEncoderScorer(...)``, or
            its spec string (``"cross-encoder:bundled:scifact-minilm"``).

    Every other argument is an option of the contract, a field inherited from
    :class:`RerankOptions` (the one declaration; its documentation describes them): live (an
    assignment is checked and applies to the next call) and strict (a misspelt option is an
    error). Only ``scorer`` is declared here.

    Ownership: the adapter uses its scorer and never closes it; whoever made the scorer closes
    it (``scorer.close()``, ``with scorer:``). Copies share the scorer; pickling refuses at once
    when the scorer does not pickle (see the module's notes).
    """

    model_config = ConfigDict(
        arbitrary_types_allowed=True, extra="forbid", validate_assignment=True
    )

    scorer: Scorer = Field(
        description="The scorer that reads query and passage together, or its spec string "
        "('cross-encoder:bundled:scifact-minilm', 'cohere:rerank-v3.5', ...)."
    )

    def __init__(self, /, **data: Any) -> None:
        if isinstance(data.get("scorer"), str):
            data["scorer"] = _from_spec(data["scorer"])  # the package's error, not pydantic's
        super().__init__(**data)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "scorer" and isinstance(value, str):
            value = _from_spec(value)
        super().__setattr__(name, value)

    def __getstate__(self) -> dict[Any, Any]:
        try:
            pickle.dumps(self.scorer)
        except Exception as exc:
            raise TypeError(
                f"{type(self).__name__} cannot be pickled: its scorer {self.scorer!r} does not "
                f"pickle ({type(exc).__name__}: {exc}). Build the adapter where it runs (a spec "
                f"string such as 'cross-encoder:bundled:scifact-minilm' travels as text)."
            ) from exc
        state: dict[Any, Any] = super().__getstate__()
        return state

    @field_validator("scorer", mode="before")
    @classmethod
    def _scorer_from_spec(cls, value: Any) -> Any:
        if isinstance(value, str):  # model_validate({"scorer": "keyword", ...})
            return _from_spec(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _check_options(cls, values: Any) -> Any:
        if isinstance(values, dict):
            RerankOptions.pick(values)  # same rules and messages as every entry point
        return values

    @model_validator(mode="after")
    def _check_assigned(self) -> Any:
        # Runs on every assignment too (validate_assignment): `post.top_n = 0` is refused.
        RerankOptions.pick({name: getattr(self, name) for name in OPTION_NAMES})
        return self

    @model_validator(mode="after")
    def _warm_scorer(self) -> Any:
        # A scorer with a model to load starts loading now, in the background, so the first
        # budgeted call finds it ready rather than spending its budget on the load.
        if not self.scorer.ready:
            self.scorer.warm()
        return self

    @property
    def _reranker(self) -> Reranker:
        """The core reranker for the options as they are now."""
        return Reranker(self.scorer, **{name: getattr(self, name) for name in OPTION_NAMES})

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Each adapter's option fields carry the declaration's documentation (JSON schema,
        # pydantic's own introspection, IDEs).
        super().__pydantic_init_subclass__(**kwargs)
        changed = False
        for name in OPTION_NAMES:
            info = cls.model_fields[name]
            if info.description != OPTION_DOCS[name]:
                info.description = OPTION_DOCS[name]
                changed = True
        if changed:
            cls.model_rebuild(force=True)

    @field_serializer("scorer")
    def _serialize_scorer(self, scorer: Scorer) -> dict[str, str]:
        # Never the scorer object itself: it may hold a client and a key.
        return {"class": type(scorer).__name__, "backend": scorer.backend, "model": scorer.model}


def _from_spec(spec: str) -> Scorer:
    from rerank_plugins.scorers import from_spec

    return from_spec(spec)
