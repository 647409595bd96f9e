"""An MkDocs hook: the build fails on a Sphinx role left literally in a rendered page.

``docs/_ext/sphinx_roles.py`` turns roles into cross-references; a role it did not match (a new
spelling, a page's own Markdown) would print as ``:class:`` text. This hook makes that an error.
"""

from __future__ import annotations

import re
from typing import Any

_RAW = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj):(?:<code>|`)")


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    found = _RAW.search(html)
    if found:
        start = max(0, found.start() - 60)
        raise ValueError(
            f"{page.file.src_path}: a Sphinx role was left in the rendered page: "
            f"...{html[start : found.end() + 40]}... Write it as a Markdown cross-reference or "
            f"check docs/_ext/sphinx_roles.py."
        )
    return html
