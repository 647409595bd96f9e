"""How long the demo's first run takes on a fresh clone: setup, then the demo with empty caches.

Clones this repository's ``HEAD`` into a temporary folder and, with a new virtualenv and empty
caches (``XDG_CACHE_HOME`` and ``RERANK_PLUGINS_CACHE`` in the temporary folder), times:

1. ``bash scripts/demo.sh --help``: the setup ``demo.sh`` does (virtualenv, CPU torch, the
   ``eval`` extra), then only the help;
2. ``bash scripts/demo.sh``: the demo's first run (setup already done, caches still empty), on
   the runtime the demo picks by default (``runtime="auto"``);
3. ``bash scripts/demo.sh --reranker-option runtime=torch``: the same with the fp32 reference,
   caches emptied again.

Writes ``docs/assets/tables/demo-first-run.md`` (the performance page includes it) and prints it.
Package downloads depend on the network and on pip's own cache; the setup row says which pip
index was used only through its time, so read it as this machine's figure.

Usage: ``python docs/scripts/demo_first_run.py`` from the project's virtualenv (about five minutes
on 2 cores; the clone gets a virtualenv of its own).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "assets" / "tables" / "demo-first-run.md"


def cpu() -> str:
    """The CPU's model name and the bf16/int8 units it offers."""
    from rerank_plugins.scorers.local import cpu_flags, cpu_name

    units = [f for f in ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni") if f in cpu_flags()]
    return f"{cpu_name()} ({' '.join(units) or 'no bf16/int8 units'})"


def run(clone: Path, env: dict[str, str], *args: str) -> tuple[float, str]:
    """Time ``bash scripts/demo.sh ARGS`` in the clone; return (seconds, its output)."""
    started = time.perf_counter()
    done = subprocess.run(
        ["bash", "scripts/demo.sh", *args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"demo.sh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout + done.stderr


def fresh_caches(base: Path, env: dict[str, str]) -> None:
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    env["XDG_CACHE_HOME"] = str(base)
    env["RERANK_PLUGINS_CACHE"] = str(base / "rerank-plugins")


def runtime_used(output: str) -> str:
    found = re.search(r"on runtime '([^']+)'", output)
    return found.group(1) if found else "?"


def p_at_3(output: str) -> str:
    found = re.search(r"In short: (P@3 [0-9.]+ -> [0-9.]+)", output)
    return found.group(1) if found else "?"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="demo-first-run-") as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
        caches = Path(tmp) / "cache"
        fresh_caches(caches, env)
        setup_s, _ = run(clone, env, "--help")
        fresh_caches(caches, env)
        auto_s, auto_out = run(clone, env)
        fresh_caches(caches, env)
        torch_s, torch_out = run(clone, env, "--reranker-option", "runtime=torch")
    load_after = os.getloadavg()
    rows = [
        ("`bash scripts/demo.sh --help` (setup: virtualenv, CPU torch, `[eval]`)", setup_s, "", ""),
        (
            "`bash scripts/demo.sh`: the demo's first run (default runtime)",
            auto_s,
            runtime_used(auto_out),
            p_at_3(auto_out),
        ),
        (
            "`bash scripts/demo.sh --reranker-option runtime=torch` (fp32 reference)",
            torch_s,
            runtime_used(torch_out),
            p_at_3(torch_out),
        ),
    ]
    lines = [
        f"Fresh clone of this repository, new virtualenv, empty caches; CPU: {cpu()}, "
        f"{os.cpu_count()} cores; load average {load_before[0]:.1f} before, "
        f"{load_after[0]:.1f} after (`python docs/scripts/demo_first_run.py`).",
        "",
        "| step | seconds | runtime | P@3 (162 dev claims) |",
        "| --- | ---: | --- | --- |",
    ]
    lines += [f"| {name} | {s:.0f} | {rt} | {p} |" for name, s, rt, p in rows]
    text = "\n".join(lines) + "\n"
    TABLE.parent.mkdir(parents=True, exist_ok=True)
    TABLE.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
