"""Length bucketing, side by side in one run: the least-cost split of the sorted pairs into passes
(``rerank_plugins.scorers.local.plan_batches``) against filling each pass greedily (the
planner it replaced, kept here as the baseline).

Run: ``python benchmarks/bench_bucketing.py`` (offline; a few minutes on 2 cores).

The SciFact development claims bundled with the package, each with its top-20 candidates from
all-MiniLM-L6-v2, scored by the bundled reranker's ``CrossEncoderScorer`` on its bf16 runtimes
(the ones ``runtime="auto"`` picks on a CPU with bf16 units; fp32 where there are none) at 512
tokens (LlamaIndex's truncation) and at the bundled model's own settings. Both planners run in
the same process on the same scorer, query by query, in alternating order, so noise from other
work falls on both alike. It prints the CPU, its flags and the load, p50 per claim and the
planned passes and padding of each planner, and writes ``benchmarks/results/
bench_bucketing.json`` and ``docs/assets/tables/bench-bucketing.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import cpu, dev_work, load, measured_on, save

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "results" / "bench_bucketing.json"
TABLE = ROOT / "docs" / "assets" / "tables" / "bench-bucketing.md"


def greedy(lengths: Sequence[int], *, max_tokens: int, max_size: int) -> list[list[int]]:
    """The previous planner: sorted by length, each pass filled until the budget is reached."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and ((len(current) + 1) * lengths[i] > max_tokens or len(current) >= max_size):
            batches.append(current)
            current = []
        current.append(i)
    return [*batches, current] if current else batches


def padding(plans: list[list[list[int]]], lengths: list[list[int]]) -> tuple[float, float]:
    """(passes per claim, share of the padded tokens that are padding)."""
    padded = real = passes = 0
    for plan, lens in zip(plans, lengths, strict=True):
        passes += len(plan)
        for batch in plan:
            padded += len(batch) * max(lens[i] for i in batch)
            real += sum(lens[i] for i in batch)
    return passes / len(plans), 1 - real / padded


def measure(runtime: str, settings: str, work: list[tuple[str, list[str]]], rounds: int) -> Any:
    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.scorers.local import plan_batches

    # "bundled": the model's own settings (256 tokens, long abstracts as windows); else plain
    # truncation at 512 tokens, as LlamaIndex runs it.
    options: dict[str, Any] = {}
    if settings != "bundled":
        options = {"max_length": 512, "long_passages": "truncate"}
    scorer = CrossEncoderScorer(
        "bundled:scifact-minilm", runtime=runtime, score_cache_size=0, device="cpu", **options
    )
    scorer.prepare()
    engine = scorer.engine
    planners = {"greedy": greedy, "least-cost": plan_batches}
    engines = {name: engine.with_forward(planner=planner) for name, planner in planners.items()}
    times: dict[str, list[float]] = {name: [] for name in planners}
    for each in engines.values():  # warm each path once
        scorer.use_engine(each)
        scorer.score_unit(*work[0], timeout=None)
    for r in range(rounds):
        for q, (query, texts) in enumerate(work):
            names = list(planners) if (q + r) % 2 == 0 else list(reversed(planners))
            for name in names:
                scorer.use_engine(engines[name])
                start = time.perf_counter()
                scorer.score_unit(query, texts, timeout=None)
                times[name].append(time.perf_counter() - start)
    lengths = [[len(p) for p in _pairs(scorer, engine, q, texts)] for q, texts in work]
    out: dict[str, Any] = {"runtime": runtime, "settings": settings}
    for name, planner in planners.items():
        plans = [
            planner(lens, max_tokens=engine.batcher.max_tokens, max_size=engine.batcher.max_size)
            for lens in lengths
        ]
        passes, waste = padding(plans, lengths)
        out[name] = {"p50_ms": 1000 * statistics.median(times[name]), "passes": passes,
                     "padding": waste}  # fmt: skip
    out["speedup"] = out["greedy"]["p50_ms"] / out["least-cost"]["p50_ms"]
    return out


def _pairs(scorer: Any, engine: Any, query: str, texts: list[str]) -> Any:
    """The pairs the scorer runs for one claim (windows where its settings say so)."""
    if scorer.long_passages != "windows":
        return engine.pairs.encode(query, texts)
    pairs, _ = engine.pairs.encode_windows(
        query, texts, max_windows=scorer.max_windows, overlap=scorer.window_overlap
    )
    return pairs


def render(record: dict[str, Any]) -> str:
    lines = [
        measured_on(
            record,
            f"{record['claims']} claims x {record['rounds']} rounds",
            "python benchmarks/bench_bucketing.py",
        ),
        "",
        "| runtime | pairs | greedy p50 ms | least-cost p50 ms | speed-up | passes a claim | "
        "padding |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in record["rows"]:
        g, d = row["greedy"], row["least-cost"]
        lines.append(
            f"| {row['runtime']} | {row['settings']} | {g['p50_ms']:.0f} | {d['p50_ms']:.0f} | "
            f"{row['speedup']:.2f}x | {g['passes']:.1f} -> {d['passes']:.1f} | "
            f"{100 * g['padding']:.0f}% -> {100 * d['padding']:.0f}% |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from rerank_plugins.scorers.local import PASS_TOKENS, cpu_flags

    bf16 = bool({"amx_bf16", "avx512_bf16"} & cpu_flags())
    load_before = load()
    work = dev_work(args.claims)
    runtimes = ["torch-bf16", "openvino-bf16"] if bf16 else ["torch", "openvino"]
    rows = [
        measure(runtime, settings, work, args.rounds)
        for runtime in runtimes
        for settings in ("512 tokens", "bundled")
    ]
    record = {
        "cpu": cpu(),
        "claims": len(work), "rounds": args.rounds, "pass_tokens": PASS_TOKENS,
        "load_before": load_before, "load_after": load(),
        "rows": rows,
    }  # fmt: skip
    save(record, OUT, TABLE, render(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
