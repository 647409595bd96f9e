"""``python -m rerank_plugins``: the same command line as ``rerank-plugins``."""

from __future__ import annotations

from rerank_plugins.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
