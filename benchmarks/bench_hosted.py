"""Hosted scorers against the local server: what the client side costs, and how faults cost.

Run it with one command (offline, about a minute)::

    python benchmarks/bench_hosted.py

Every hosted figure is measured against :class:`rerank_plugins.testing.server.RerankServer` on
127.0.0.1, whose lexical scoring takes microseconds: so a figure is the cost of this package's
core + the provider's SDK (``cohere``, ``voyageai``) or ``httpx`` + loopback HTTP, i.e. what a
hosted reranker adds *on top of* the provider's own model time and the network. It is not the
provider's latency (see the published figures in ``docs/guides/hosted-apis.md``).

What it measures, per backend (Cohere, Voyage, TEI):

1. one rerank of 20 and of 100 texts, sync and async: p50 / p95 over ``--repeats`` calls;
2. 2,500 texts (Cohere, Voyage: three requests of at most 1,000, sent concurrently);
3. 100 concurrent async reranks of 20 texts on one shared scorer: wall time;
4. a 503 answered once, then retried: the added time (the core's first back-off is 50 ms).

A model's own latency is not measured here (a local server's microseconds beside a model's
hundreds of milliseconds would read as a comparison): the local cross-encoder's figures are on
the one latency page, ``docs/guides/performance.md`` (``benchmarks/bench_local.py``).

It prints a Markdown table and writes the figures to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from rerank_plugins import Reranker  # noqa: E402
from rerank_plugins.testing.server import RerankServer  # noqa: E402

BACKENDS = ["cohere", "voyage", "tei"]
VOCABULARY = (
    "cells protein expression tumour patients study increased reduced risk associated "
    "treatment mice levels response gene clinical effect analysis data role"
)
WORDS = VOCABULARY.split()


def texts(n: int, words: int = 60) -> list[str]:
    """``n`` abstract-sized texts (about 60 words, a SciFact abstract's first lines)."""
    return [
        f"doc{i} " + " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(words))
        for i in range(n)
    ]


QUERY = "protein expression in tumour cells increased the clinical response"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 2), "p95_ms": round(p95, 2)}


def timed(call: Callable[[], Any], repeats: int) -> dict[str, float]:
    call()  # warm: imports, clients, connections
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


async def atimed(reranker: Reranker, batch: list[str], repeats: int) -> dict[str, float]:
    """Like :func:`timed`, in one event loop (an async app keeps its loop and its client)."""
    await reranker.arerank(QUERY, batch)
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await reranker.arerank(QUERY, batch)
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def measure_backend(server: RerankServer, backend: str, repeats: int) -> dict[str, Any]:
    scorer = server.scorer_for(backend)
    scorer.prepare()
    reranker = Reranker(scorer)
    out: dict[str, Any] = {}
    for n in (20, 100):
        batch = texts(n)
        out[f"sync_{n}"] = timed(lambda b=batch: reranker.rerank(QUERY, b), repeats)
        out[f"async_{n}"] = asyncio.run(atimed(reranker, batch, repeats))
    if backend != "tei":
        big = texts(2500, words=20)
        started = time.perf_counter()
        result = reranker.rerank(QUERY, big)
        out["sync_2500_ms"] = round((time.perf_counter() - started) * 1000, 1)
        out["sync_2500_requests"] = result.stats.units
        out["sync_2500_billed"] = dict(result.stats.billed)

    async def many() -> None:
        await asyncio.gather(*(reranker.arerank(QUERY, texts(20)) for _ in range(100)))

    asyncio.run(many())  # warm this loop's client path
    started = time.perf_counter()
    asyncio.run(many())
    out["async_100_concurrent_wall_ms"] = round((time.perf_counter() - started) * 1000, 1)

    retry: list[float] = []
    clean: list[float] = []
    for _ in range(max(3, repeats // 5)):
        flaky = Reranker(server.scorer_for(backend, key=server.key_for("http_503", times=1)))
        flaky.scorer.prepare()
        started = time.perf_counter()
        assert flaky.rerank(QUERY, texts(20)).stats.retries == 1
        retry.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        reranker.rerank(QUERY, texts(20))
        clean.append((time.perf_counter() - started) * 1000)
    out["one_503_then_retry_added_ms"] = round(
        statistics.median(retry) - statistics.median(clean), 1
    )
    return out


def report(figures: dict[str, Any]) -> str:
    lines = [
        "| backend | 20 texts sync p50 / p95 | 20 texts async p50 | 100 texts sync p50 / p95 "
        "| 100 texts async p50 | 2,500 texts | 100 concurrent async (20 texts) | a 503, retried |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for backend in BACKENDS:
        f = figures[backend]
        big = (
            f"{f['sync_2500_ms']:.0f} ms ({f['sync_2500_requests']} requests)"
            if "sync_2500_ms" in f
            else "n/a (32 per request)"
        )
        lines.append(
            f"| {backend} | {f['sync_20']['p50_ms']:.1f} / {f['sync_20']['p95_ms']:.1f} ms "
            f"| {f['async_20']['p50_ms']:.1f} ms "
            f"| {f['sync_100']['p50_ms']:.1f} / {f['sync_100']['p95_ms']:.1f} ms "
            f"| {f['async_100']['p50_ms']:.1f} ms | {big} "
            f"| {f['async_100_concurrent_wall_ms']:.0f} ms "
            f"| +{f['one_503_then_retry_added_ms']:.0f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--out", default="bench_hosted.json")
    parser.add_argument(
        "--table",
        default=str(ROOT / "docs" / "assets" / "tables" / "hosted-latency.md"),
        help="where to write the Markdown table the docs include ('' to skip)",
    )
    args = parser.parse_args()
    figures: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "python": platform.python_version(),
    }
    with RerankServer() as server:
        for backend in BACKENDS:
            print(f"measuring {backend} ...", file=sys.stderr)
            figures[backend] = measure_backend(server, backend, args.repeats)
    figures["load_average"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(figures, indent=2))
    table = report(figures)
    print(table)
    if args.table:
        load = figures["load_average"]
        where = (
            f"Client overhead only (the local test server on 127.0.0.1 scores in microseconds; "
            f"add the provider's model time and your network). Measured "
            f"{time.strftime('%Y-%m-%d')} on {figures['machine']}, Python {figures['python']}, "
            f"load average {load[0]:.1f} at the end; {args.repeats} calls per figure. "
            f"Command: `python benchmarks/bench_hosted.py`."
        )
        Path(args.table).parent.mkdir(parents=True, exist_ok=True)
        Path(args.table).write_text(f"{table}\n\n{where}\n")
    print(f"\nFigures written to {args.out}")


if __name__ == "__main__":
    main()
