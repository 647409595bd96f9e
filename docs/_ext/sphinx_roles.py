"""A griffe extension for the API reference: Sphinx roles in docstrings become cross-references.

The package's docstrings name other objects the Sphinx way
(``:class:`~rerank_plugins.RerankStats```, ``:meth:`rerank```), which IDEs and ``help()`` read
well. mkdocstrings renders Markdown, where a
role would print literally; this extension rewrites each role, once the package is loaded, into a
mkdocs-autorefs link (``[RerankStats][rerank_plugins._core.RerankStats]``), resolving relative
names from the docstring's own scope as Python would. The build fails on a name that does not
resolve (``mkdocs build --strict``), and ``docs/_ext/no_raw_roles.py`` fails it on any role left
in the rendered pages.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|mod|data|exc|obj):`(~?)([\w.]+)(\(\))?`")


def _target(obj: griffe.Object, name: str) -> str:
    head, _, rest = name.partition(".")
    scopes = [obj] if isinstance(obj, (griffe.Class, griffe.Module)) else []
    scopes += [p for p in _parents(obj)]
    for scope in scopes:
        try:
            found = scope.resolve(head)
        except (griffe.NameResolutionError, KeyError, AttributeError):
            continue
        return f"{found}.{rest}" if rest else found
    return name  # an absolute path, or a name autorefs knows (the build fails if it does not)


def _parents(obj: griffe.Object) -> list[griffe.Object]:
    out = []
    parent = obj.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _rewrite(obj: griffe.Object) -> None:
    docstring = obj.docstring
    if docstring is None or ":" not in docstring.value:
        return

    def link(match: re.Match[str]) -> str:
        _, short, name, call = match.groups()
        shown = name.rsplit(".", 1)[-1] if short else name
        return f"[`{shown}{call or ''}`][{_target(obj, name)}]"

    docstring.value = _ROLE.sub(link, docstring.value)


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`name``` in every docstring of the package into an autorefs link."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        stack: list[griffe.Object] = [pkg]
        seen: set[str] = set()
        while stack:
            obj = stack.pop()
            if obj.path in seen:
                continue
            seen.add(obj.path)
            _rewrite(obj)
            stack.extend(m for m in obj.members.values() if not m.is_alias)
