"""A griffe extension for the API reference: read a Google ``Example:`` section as ``Examples:``.

The package's docstrings head their runnable examples ``Example:`` (singular). griffe's Google
parser treats only ``Examples:`` as a doctest section (rendered as highlighted code); it would turn
``Example:`` into an admonition of plain Markdown, where ``[...]`` output reads as a broken link.
This extension renames the heading before the docstring is parsed; the source is untouched.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class GoogleExampleSection(griffe.Extension):
    """Rename ``Example:`` section headings to ``Examples:`` in every docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _HEADING.sub(r"\1Examples:", obj.docstring.value)
