"""Regenerate every figure and table of the concept pages, in one go.

Runs each script of this folder in turn (the reranker's scores are cached on disk, so the
scripts after the first reuse them). Extra arguments are passed to every script, e.g.
``--data path/to/beir-folder`` or ``--reranker path/to/cross-encoder``.

Run: ``python docs/scripts/make_figures.py`` (about 20-30 minutes on 2 busy CPU cores; most of it
is the reranker reading 20 candidates for each of 162 claims once, in `rerank-plugins eval`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = (
    "failure_modes.py",  # first: its `rerank-plugins eval` run fills the score cache
    "why_rerank.py",
    "precision_at_3.py",
    "preference_model.py",
    "retrieve_wide.py",
    "bi_vs_cross.py",
    "latency_budget.py",
    "real_rag.py",
    "threshold.py",
)
ALONE = ("demo_first_run.py",)
"""Scripts that time a whole command from a fresh clone: they take no data or model options."""


def main() -> int:
    for name in SCRIPTS + ALONE:
        started = time.monotonic()
        print(f"=== {name}", flush=True)
        extra = sys.argv[1:] if name in SCRIPTS else []
        code = subprocess.call([sys.executable, str(HERE / name), *extra])
        print(f"=== {name}: exit {code} in {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
