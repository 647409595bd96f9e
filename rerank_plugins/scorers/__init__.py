"""Scorers, and building one from a short spec string (for the CLI and configuration files).

A spec is ``backend`` or ``backend:model``: ``cross-encoder:cross-encoder/ms-marco-MiniLM-L6-v2``,
``cross-encoder:bundled:scifact-minilm``, ``keyword``. Each backend's module is imported only when
its spec is used, except the model-free ``keyword`` scorer (:mod:`rerank_plugins.scorers.keyword`),
which this package imports directly.
"""

from __future__ import annotations

import importlib
import inspect
import json
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._scorer import Scorer
from rerank_plugins.scorers.keyword import KeywordScorer

__all__ = ["BACKENDS", "from_spec", "parse_option"]

# backend name -> (module, class), imported when its spec is first used; or the class itself
# for a backend light enough to import with this package. Add a backend with one line.
BACKENDS: dict[str, tuple[str, str] | type[Scorer]] = {
    "cohere": ("rerank_plugins.scorers.cohere", "CohereScorer"),
    "cross-encoder": ("rerank_plugins.scorers.local.cross_encoder", "CrossEncoderScorer"),
    "keyword": KeywordScorer,
    "llm-judge": ("rerank_plugins.scorers.llm_judge", "LLMJudgeScorer"),
    "query-likelihood": ("rerank_plugins.scorers.local.query_likelihood", "QueryLikelihoodScorer"),
    "tei": ("rerank_plugins.scorers.tei", "TEIScorer"),
    "voyage": ("rerank_plugins.scorers.voyage", "VoyageScorer"),
}


def from_spec(spec: str, **options: Any) -> Scorer:
    """Build a scorer from ``backend[:model]`` and keyword options.

    Options are checked against the scorer's constructor before it runs: an unknown name lists
    the valid ones, and a string value (from a command line or a configuration file) is
    converted to the parameter's type (``"16"`` to ``16``, ``"true"`` to ``True``) or rejected
    with the type expected.

    Args:
        spec: ``backend`` or ``backend:model`` (the model part may itself contain ``:``).
        **options: Passed to the scorer's constructor; ``model=`` gives the model as an object
            (a loaded model) instead of in the spec.

    Raises:
        ConfigurationError: a spec that is not a string, an unknown backend, an empty model part
            (``"cross-encoder:"``), an unknown option, or a value of the wrong type.

    Example:
        >>> from_spec("keyword").backend
        'keyword'
    """
    if not isinstance(spec, str):
        raise ConfigurationError(
            f"A reranker spec is a string such as 'keyword' or 'cross-encoder:bundled:scifact-"
            f"minilm', got {type(spec).__name__} {spec!r:.60}; pass the spec as text."
        )
    backend, colon, model = spec.partition(":")
    if colon and not model.strip():
        raise ConfigurationError(
            f"Spec {spec!r} has an empty model part after ':'; name the model (e.g. "
            f"'{backend}:MODEL'), or write just {backend!r} for the backend's default."
        )
    if backend not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigurationError(
            f"Unknown reranker backend {backend!r} in spec {spec!r}; use one of: {known} "
            f"(as 'backend' or 'backend:model')."
        )
    entry = BACKENDS[backend]
    cls = entry if isinstance(entry, type) else getattr(importlib.import_module(entry[0]), entry[1])
    cls_name = cls.__name__
    given = options.pop("model", None)
    if given is not None and model:
        raise ConfigurationError(
            f"Spec {spec!r} names a model and model= gives one too; pass one of them."
        )
    checked = _check_options(cls, backend, options)
    positional = (given,) if given is not None else (model,) if model else ()
    try:
        scorer: Scorer = cls(*positional, **checked)
    except TypeError as exc:  # e.g. a model given to a backend that takes none
        raise ConfigurationError(f"Cannot build {cls_name} from spec {spec!r}: {exc}.") from exc
    return scorer


def _check_options(cls: type, backend: str, options: dict[str, Any]) -> dict[str, Any]:
    params = {
        name: param
        for name, param in inspect.signature(cls).parameters.items()
        if name != "self" and param.kind is param.KEYWORD_ONLY
    }
    out: dict[str, Any] = {}
    for name, value in options.items():
        if name not in params:
            valid = ", ".join(sorted(params)) or "none"
            raise ConfigurationError(
                f"{cls.__name__} ({backend!r}) has no option {name!r}; its options are: {valid}."
            )
        out[name] = _convert(cls.__name__, name, value, params[name].default)
    return out


def _convert(owner: str, name: str, value: Any, default: Any) -> Any:
    """Turn a string into the type of the parameter's default where that type is a number or a
    bool; every other value goes to the constructor as given (which validates it)."""
    kind = type(default)
    if not isinstance(value, str) or default is None or kind not in (bool, int, float):
        return value
    if kind is bool:
        lowered = value.strip().lower()
        return {"true": True, "false": False}.get(lowered, value)
    try:
        return kind(value)
    except ValueError:
        raise ConfigurationError(
            f"{owner} option {name!r} expects {kind.__name__} (e.g. {name}={default}), "
            f"got {value!r}."
        ) from None


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from a command line as ``(key, value)``: the value read as JSON where it is
    JSON (``16``, ``true``, ``[1, 2]``), else kept as text; :func:`from_spec` converts it further.

    >>> parse_option("batch_size=16"), parse_option("prompt=Claim: {passage}")
    (('batch_size', 16), ('prompt', 'Claim: {passage}'))
    """
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected KEY=VALUE, got {text!r} (e.g. batch_size=16)")
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value
