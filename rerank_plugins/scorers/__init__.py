"""Scorers, and building one from a short spec string (for the CLI and configuration files).

A spec is ``backend`` or ``backend:model``: ``cross-encoder:cross-encoder/ms-marco-MiniLM-L6-v2``,
``cross-encoder:bundled:scifact-minilm``, ``keyword``. Each backend's module is imported only when
its spec is used.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from rerank_plugins._exceptions import ConfigurationError
from rerank_plugins._scorer import Scorer

__all__ = ["BACKENDS", "from_spec"]

# backend name -> (module, class). Add a backend with one line.
BACKENDS: dict[str, tuple[str, str]] = {
    "cohere": ("rerank_plugins.scorers.cohere", "CohereScorer"),
    "cross-encoder": ("rerank_plugins.scorers.cross_encoder", "CrossEncoderScorer"),
    "keyword": ("rerank_plugins.testing", "KeywordScorer"),
    "llm-judge": ("rerank_plugins.scorers.llm_judge", "LLMJudgeScorer"),
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
        **options: Passed to the scorer's constructor.

    Raises:
        ConfigurationError: unknown backend, unknown option, or a value of the wrong type.

    Example:
        >>> from_spec("keyword").backend
        'keyword'
    """
    backend, _, model = spec.partition(":")
    if backend not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigurationError(
            f"Unknown reranker backend {backend!r} in spec {spec!r}; use one of: {known} "
            f"(as 'backend' or 'backend:model')."
        )
    module, cls_name = BACKENDS[backend]
    cls = getattr(importlib.import_module(module), cls_name)
    checked = _check_options(cls, backend, options)
    try:
        scorer: Scorer = cls(model, **checked) if model else cls(**checked)
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
