"""What the side-by-side benchmarks share: the work (bundled development claims with their first
stage's top 20), how the machine is described (the CPU, its matrix-unit flags, the load) and how
a run's record and its Markdown table are written."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def dev_work(claims: int) -> list[tuple[str, list[str]]]:
    """The first ``claims`` bundled development claims, each with its top-20 abstracts from
    all-MiniLM-L6-v2 (the package's first stage)."""
    from rerank_plugins.data import scifact_path
    from rerank_plugins.evaluation.candidates import query_candidates

    return [
        (q.query, list(q.texts)) for q in query_candidates(scifact_path(), limit=claims, depth=20)
    ]


def cpu() -> str:
    """The CPU's name and the flags that decide the fast paths (AMX, AVX-512 BF16 and VNNI)."""
    from rerank_plugins.scorers.local import cpu_flags, cpu_name

    flags = sorted(f for f in cpu_flags() if f.startswith(("amx", "avx512_bf16", "avx512_vnni")))
    return f"{cpu_name()} ({' '.join(flags) or 'no AMX / AVX-512 BF16 / VNNI'})"


def load() -> list[float] | None:
    """The load averages (1, 5 and 15 minutes); ``None`` where the OS has none."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def measured_on(record: dict[str, Any], what: str, command: str) -> str:
    """The line above a table: the CPU, what ran, the load before and after, and the command."""
    return (
        f"{record['cpu']}, {what}, load {record['load_before']} before, "
        f"{record['load_after']} after (`{command}`):"
    )


def save(record: dict[str, Any], out: Path, table: Path, text: str) -> None:
    """Write the record (JSON) and its table (Markdown), and print the table."""
    out.write_text(json.dumps(record, indent=2) + "\n")
    table.write_text(text)
    print(text)
