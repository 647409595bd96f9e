"""Run every example as CI does: each ``examples/*.py`` (but this file and ``_``-prefixed
helpers) in its own process, with ``CI=true`` (examples do less work, but real work), offline, with
a timeout each. Prints a summary and exits non-zero if any example failed or timed out.

Run: ``python examples/run_all.py`` (``--timeout 240``, or name some examples to run only those).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def examples(names: list[str]) -> list[Path]:
    found = sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    if not names:
        return found
    chosen = [p for p in found if p.name in names or p.stem in names]
    unknown = set(names) - {p.name for p in chosen} - {p.stem for p in chosen}
    if unknown:
        raise SystemExit(
            f"No such example(s): {', '.join(sorted(unknown))}; "
            f"have: {', '.join(p.name for p in found)}"
        )
    return chosen


def run(path: Path, timeout: float) -> tuple[str, float, str]:
    env = {**os.environ, "CI": "true", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, str(path)],
            cwd=HERE.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        return "TIMEOUT", time.monotonic() - started, out
    status = "ok" if proc.returncode == 0 else f"FAILED (exit {proc.returncode})"
    return status, time.monotonic() - started, proc.stdout + proc.stderr


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="run only these examples (file name or stem)")
    p.add_argument("--timeout", type=float, default=240.0, help="seconds per example")
    args = p.parse_args()
    results = []
    for path in examples(args.names):
        print(f"--- {path.name}", flush=True)
        status, seconds, output = run(path, args.timeout)
        if status != "ok":
            print(output[-4000:])
        print(f"    {status} in {seconds:.1f} s", flush=True)
        results.append((path.name, status, seconds))
    print("\nSummary")
    width = max((len(name) for name, _, _ in results), default=10)
    for name, status, seconds in results:
        print(f"  {name:<{width}}  {status:<18} {seconds:6.1f} s")
    failed = [name for name, status, _ in results if status != "ok"]
    print(
        f"{len(results) - len(failed)}/{len(results)} examples passed"
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
