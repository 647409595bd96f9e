"""The one lazy-import boundary for optional dependencies.

Every import of a third-party library that an extra provides goes through :func:`require`, so a
missing extra always fails the same way: a :class:`~rerank_plugins.MissingDependencyError` (also
an ``ImportError``) that names the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from rerank_plugins._exceptions import MissingDependencyError

__all__ = ["require"]


def require(module: str, *, extra: str, who: str) -> ModuleType:
    """Import ``module`` or explain which extra to install.

    Args:
        module: The module to import, e.g. ``"sentence_transformers"``.
        extra: The rerank-plugins extra that provides it, e.g. ``"local"``.
        who: What needs it, for the message, e.g. ``"CrossEncoderScorer"``.

    Raises:
        MissingDependencyError: the module is not installed.

    Example:
        >>> require("json", extra="local", who="doctest").__name__
        'json'
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the module exists but one of *its* imports is broken: show the real error
        raise MissingDependencyError(
            f"{who} needs the optional dependency {top!r}, which is not installed; "
            f"install it with: pip install 'rerank-plugins[{extra}]'"
        ) from exc
