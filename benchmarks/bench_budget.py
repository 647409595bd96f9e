"""Budget adherence and recovery on one named runtime, alone (the rows bench_local.py measures on
whichever runtime is fastest in its run, which on some CPUs changes from run to run).

Run: ``python benchmarks/bench_budget.py --runtime torch-bf16`` (bundled dev claims, offline).
Prints
the CPU, its flags and the load, then the budget table and the recovery row as JSON.
"""

from __future__ import annotations

import argparse
import json

import bench_local as b
from _common import cpu, load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", default="torch-bf16", help="the CrossEncoderScorer runtime")
    parser.add_argument("--queries", type=int, default=12, help="dev claims (default 12)")
    args = parser.parse_args()
    load_before = load()
    queries, _, _ = b.load_queries(argparse.Namespace(data=None))
    work = b.cache_dir() / "bench"
    folder, _ = b.model_folder(work, 1234)
    report = {
        "runtime": args.runtime,
        "budget": b.bench_budget(folder, work, args.runtime, queries[: args.queries], batch_size=4),
        "recovery": b.bench_recovery(
            folder, work, args.runtime, queries[: args.queries], batch_size=4, calls=100
        ),
        "machine": {"cpu": cpu(), "cores": b._cores(), "load_before": load_before,
                    "load_after": load()},
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
