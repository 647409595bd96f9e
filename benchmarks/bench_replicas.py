"""Replicas, side by side in one run: tail latency with one slow replica (hedging on and off) and
with one replica killed, against three healthy ones.

Run: ``RERANK_PLUGINS_INFINITY=.venv-infinity/bin/infinity_emb python benchmarks/bench_replicas.py``
(offline; about fifteen minutes on 2 cores; ``.ci/run`` shows how to make ``.venv-infinity``).
``--engine simulated`` runs the same configurations against three copies of the package's
protocol server that answer after 30 ms (a simulated engine: two minutes, no Infinity), where the
replica layer's effect is not drowned by a busy CPU's noise.

Three real Infinity replicas on 127.0.0.1 serve the bundled reranker; the client is one
:class:`~rerank_plugins.ReplicaScorer` per configuration. The work: the bundled SciFact
development claims, each with its first stage's top candidates, one call after another (the
sequential traffic where a balancer cannot see load, so every replica gets its share).

- **healthy**: the three replicas as they are.
- **1 slow**: the third replica behind :class:`~rerank_plugins.testing.proxy.FaultProxy`, which
  holds each request 300 ms before forwarding it. The engine is real; *the delay is simulated*
  (a stall in front of it, standing in for a replica on a busy node).
- **1 killed**: the third replica's process killed (``SIGKILL``) before the phase starts.

The healthy and slow configurations run interleaved, call by call, so noise from other work falls
on all alike; the killed phase runs last (killing a replica changes the machine for everyone).
It prints the CPU, its flags and the load, and writes ``benchmarks/results/bench_replicas.json``
and ``docs/assets/tables/bench-replicas.md`` (``_simulated`` / ``-simulated`` for the simulated
engine).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import cpu, dev_work, load, save

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "bench_replicas.json"
TABLE = ROOT / "docs" / "assets" / "tables" / "bench-replicas.md"
SIM_OUT = ROOT / "benchmarks" / "results" / "bench_replicas_simulated.json"
SIM_TABLE = ROOT / "docs" / "assets" / "tables" / "bench-replicas-simulated.md"
SLOW_S = 0.3
SIM_ENGINE_S = 0.03


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Config:
    """One configuration: a replica set and what its calls did."""

    def __init__(self, name: str, urls: list[str], **options: Any) -> None:
        from rerank_plugins import ReplicaScorer

        self.name = name
        self.options = options
        self.scorer = ReplicaScorer.from_urls(
            "cohere", urls, model="scifact-minilm", api_key="unused", seed=0, **options
        )
        self.urls = urls
        self.latencies: list[float] = []
        self.answered = 0
        self.lost = 0

    def call(self, query: str, texts: list[str]) -> None:
        from rerank_plugins import Reranker

        started = time.monotonic()
        result = Reranker(self.scorer, budget_ms=30_000).rerank(query, texts)
        self.latencies.append(time.monotonic() - started)
        complete = sorted(result.indices) == list(range(len(texts)))
        self.answered += int(complete and result.stats.scored == len(texts))
        self.lost += len(texts) - len(set(result.indices))

    def row(self) -> dict[str, Any]:
        ms = [1000 * t for t in self.latencies]
        stats = self.scorer.endpoint_stats()
        self.scorer.close()
        return {
            "config": self.name,
            "balance": self.options.get("balance", "p2c"),
            "hedging": self.options.get("hedging", True),
            "calls": len(ms),
            "answered": self.answered,
            "lost": self.lost,
            "p50_ms": statistics.median(ms),
            "p95_ms": quantile(ms, 0.95),
            "p99_ms": quantile(ms, 0.99),
            "hedges": sum(s["hedges"] for s in stats.values()),
            "cancelled": sum(s["cancelled"] for s in stats.values()),
            "ejections": sum(s["ejections"] for s in stats.values()),
            "requests_per_replica": [stats[u]["requests"] for u in self.urls],
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["infinity", "simulated"], default="infinity")
    parser.add_argument("--calls", type=int, default=120, help="calls per configuration")
    parser.add_argument("--warmup", type=int, default=15, help="unmeasured calls first")
    parser.add_argument("--texts", type=int, default=5, help="candidates per call")
    parser.add_argument("--chars", type=int, default=300, help="characters kept of each text")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    load_before = load()
    # Short candidates: what is measured is the replica layer's tail, not the model's throughput.
    work = [(q, [t[: args.chars] for t in texts[: args.texts]]) for q, texts in dev_work(60)]
    if args.engine == "simulated":
        rows, engine = simulated(work, args)
        out, table = SIM_OUT, SIM_TABLE
    else:
        rows, engine = infinity(work, args)
        out, table = OUT, TABLE
    healthy_p99 = rows[0]["p99_ms"]
    record = {
        "cpu": cpu(), "engine": engine,
        "calls": args.calls, "warmup": args.warmup, "texts_per_call": args.texts,
        "chars_per_text": args.chars, "slow_ms": 1000 * SLOW_S,
        "load_before": load_before, "load_after": load(),
        "rows": rows,
        "p99_vs_healthy": {f"{r['config']} / {r['balance']} / hedging {r['hedging']}":
                           round(r["p99_ms"] / healthy_p99, 2) for r in rows},
    }  # fmt: skip
    save(record, out, table, render(record))
    return 0


def run(configs: list[Config], work: list[tuple[str, list[str]]], args: Any) -> None:
    """Warm-up calls (unmeasured), then the measured ones, interleaved call by call."""
    for i in range(args.warmup + args.calls):
        query, texts = work[i % len(work)]
        for config in configs[i % 2 :] + configs[: i % 2]:
            config.call(query, texts)
            if i < args.warmup:
                config.latencies.pop()
                config.answered -= 1


def side_by_side(healthy: list[str], slowed: list[str]) -> list[Config]:
    return [
        Config("healthy", healthy, balance="least_outstanding"),
        Config("1 slow (+300 ms, simulated)", slowed, balance="least_outstanding", hedging=False),
        Config("1 slow (+300 ms, simulated)", slowed, balance="least_outstanding"),
        Config("1 slow (+300 ms, simulated)", slowed, hedging=False),
        Config("1 slow (+300 ms, simulated)", slowed),
    ]


def killed_configs(urls: list[str]) -> list[Config]:
    return [Config("1 killed", urls, balance="least_outstanding"), Config("1 killed", urls)]


def infinity(work: list[tuple[str, list[str]]], args: Any) -> tuple[list[dict[str, Any]], str]:
    from integration_tests._infinity import ENGINE, SKIP_REASON, InfinityServer, export_bundled
    from rerank_plugins.testing.proxy import FaultProxy

    if not ENGINE:
        raise SystemExit(SKIP_REASON)
    tmp = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    (tmp / "model").mkdir()
    export_bundled(tmp / "model")
    servers = [InfinityServer(tmp / "model", tmp / f"replica-{i}.log").start() for i in range(3)]
    try:
        for server in servers:
            server.wait_ready()
        healthy = [s.url for s in servers]
        with FaultProxy(servers[2].port, delay_s=SLOW_S) as slow:
            configs = side_by_side(healthy, [healthy[0], healthy[1], slow.url])
            run(configs, work, args)
            rows = [config.row() for config in configs]
        servers[2].kill()  # the process dies (SIGKILL), as a crashed replica does
        configs = killed_configs(healthy)
        run(configs, work, args)
        rows += [config.row() for config in configs]
    finally:
        for server in servers:
            server.stop()
    return rows, "Infinity 0.0.78 (torch, CPU), 3 replicas on 127.0.0.1, bundled scifact-minilm"


def simulated(work: list[tuple[str, list[str]]], args: Any) -> tuple[list[dict[str, Any]], str]:
    from rerank_plugins.testing.proxy import FaultProxy
    from rerank_plugins.testing.server import RerankServer

    servers = [RerankServer(api_key="unused", latency_s=SIM_ENGINE_S).start() for _ in range(3)]
    # Every replica behind a proxy in every configuration (the same path, the same overhead);
    # stopping one's proxy cuts it off as a crashed pod would.
    plain = [FaultProxy(server.port).start() for server in servers]
    proxies = [FaultProxy(server.port).start() for server in servers]
    try:
        urls = [p.url for p in proxies]
        proxies[2].delay_s = SLOW_S
        configs = side_by_side([p.url for p in plain], urls)
        run(configs, work, args)
        rows = [config.row() for config in configs]
        proxies[2].delay_s = 0.0
        proxies[2].stop()
        configs = killed_configs(urls)
        run(configs, work, args)
        rows += [config.row() for config in configs]
    finally:
        for proxy in plain + proxies:
            proxy.stop()
        for server in servers:
            server.stop()
    return rows, (
        f"SIMULATED engine: 3 copies of the package's protocol server on 127.0.0.1, each "
        f"answering after {1000 * SIM_ENGINE_S:.0f} ms (word-overlap scores)"
    )


def render(record: dict[str, Any]) -> str:
    lines = [
        f"Machine: {record['cpu']}; load {record['load_before']} before, "
        f"{record['load_after']} after. {record['engine']}; {record['calls']} sequential calls "
        f"per configuration (after {record.get('warmup', 0)} unmeasured), "
        f"{record['texts_per_call']} candidates of at most "
        f"{record['chars_per_text']} characters each.",
        "",
        "| replicas | balance | hedging | p50 ms | p95 ms | p99 ms | p99 / healthy | answered | "
        "lost | hedges (losers cancelled) | ejections |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    healthy = record["rows"][0]["p99_ms"]
    for r in record["rows"]:
        lines.append(
            f"| {r['config']} | {r['balance']} | {'on' if r['hedging'] else 'off'} | "
            f"{r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} | "
            f"{r['p99_ms'] / healthy:.2f}x | {r['answered']}/{r['calls']} | {r['lost']} | "
            f"{r['hedges']} ({r['cancelled']}) | {r['ejections']} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
