"""A griffe extension for the API reference: document each contract option from its declaration.

The options are declared once, in :class:`rerank_plugins.RerankOptions`, each with its
documentation in the field's ``metadata={"doc": ...}`` (the adapters' field descriptions and the
command line's help read it there at run time). griffe reads source statically and would show the
fields undocumented; this extension gives each such attribute its ``doc`` string as its
docstring (and its default as its value), so the reference renders the same text as ``--help``
and the adapters' schema.
"""

from __future__ import annotations

import ast
from typing import Any

import griffe


def _default_of(value: ast.expr | None) -> str | None:
    """The source of the ``default`` of ``field(default=..., ...)``, if ``value`` is one."""
    if not isinstance(value, ast.Call) or getattr(value.func, "id", None) != "field":
        return None
    for keyword in value.keywords:
        if keyword.arg == "default":
            return ast.unparse(keyword.value)
    return None


def _doc_of(value: ast.expr | None) -> str | None:
    """The ``doc`` entry of ``field(..., metadata={"doc": "..."})``, if ``value`` is one."""
    if not isinstance(value, ast.Call) or getattr(value.func, "id", None) != "field":
        return None
    for keyword in value.keywords:
        if keyword.arg == "metadata" and isinstance(keyword.value, ast.Dict):
            for key, item in zip(keyword.value.keys, keyword.value.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "doc"
                    and isinstance(item, ast.Constant)
                    and isinstance(item.value, str)
                ):
                    return item.value
    return None


class OptionDocs(griffe.Extension):
    """Give dataclass fields declared with ``metadata={"doc": ...}`` that text as docstring."""

    def on_attribute_instance(self, *, node: Any, attr: griffe.Attribute, **kwargs: Any) -> None:
        if attr.docstring is not None or not isinstance(node, ast.AnnAssign):
            return
        text = _doc_of(node.value)
        if text is not None:
            attr.docstring = griffe.Docstring(text, parent=attr)
            default = _default_of(node.value)
            if default is not None:
                attr.value = default  # rendered `top_n: int | None = None`, not the field() call

    def on_function_instance(self, *, node: Any, func: griffe.Function, **kwargs: Any) -> None:
        """A per-call override defaults to the reranker's own option (the private ``_UNSET``
        sentinel in the source): render it as that option, ``top_n: int | None = self.top_n``."""
        for param in func.parameters:
            if str(param.default) == "_UNSET":
                param.default = f"self.{param.name}"
