"""Run the README's quick starts verbatim from the built wheel, outside the clone, offline.

For each fenced ``python`` block of README.md: a fresh virtualenv in a temporary folder outside
the clone, the pinned torch the README installs first, then the wheel with the extra the block's
quick start names (``[llama-index-local]`` or ``[langchain-local]``); the block is written to a
file there, unchanged, and run from there (no ``PYTHONPATH``, the model hub off). The last line it
prints must be three results, each with a score: the top 3 were reranked on the first query.

Usage: ``python scripts/readme_from_wheel.py dist/rerank_plugins-0.1.0-py3-none-any.whl``
(``.ci/run`` runs it after ``python -m build``). Standard library only; exits 1 on a failure.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
TORCH = "torch==2.13.0"  # what the README's install section pins


def blocks(readme: Path) -> list[tuple[str, str]]:
    """Each Python block of the README with the extra its quick start installs."""
    out = []
    for code in BLOCK.findall(readme.read_text()):
        extra = "llama-index-local" if "llama_index" in code else "langchain-local"
        out.append((extra, code))
    return out


def top3_scored(stdout: str) -> str | None:
    """``None`` when the last line printed is three (score, rank) results with real scores, else
    what is wrong."""
    lines = stdout.strip().splitlines()
    if not lines:
        return "the block printed nothing"
    try:
        printed = ast.literal_eval(lines[-1])
    except (ValueError, SyntaxError):
        return f"the last line is not a list of results: {lines[-1][:200]!r}"
    if not isinstance(printed, list) or len(printed) != 3:
        return f"expected the top 3, got {printed!r}"
    unscored = [row for row in printed if not isinstance(row[0], float)]
    if unscored:
        return f"the top 3 were not all scored: {printed!r}"
    return None


def run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, **kw)  # type: ignore[call-overload,no-any-return]


def check_block(wheel: Path, extra: str, code: str, folder: Path) -> str | None:
    venv = folder / "venv"
    python = str(venv / "bin" / "python")
    run([sys.executable, "-m", "venv", str(venv)])
    run([python, "-m", "pip", "install", "-q", TORCH])
    run([python, "-m", "pip", "install", "-q", f"{wheel}[{extra}]"])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    where = run(
        [python, "-c", "import rerank_plugins; print(rerank_plugins.__file__)"],
        cwd=folder,
        env=env,
        capture_output=True,
    ).stdout.strip()
    if not Path(where).is_relative_to(venv):
        return f"rerank_plugins was imported from {where}, not from the installed wheel"
    script = folder / "quick_start.py"
    script.write_text(code)
    started = time.monotonic()
    done = subprocess.run(
        [python, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=900
    )
    print(f"   ran in {time.monotonic() - started:.0f} s; printed: {done.stdout.strip()[-300:]}")
    if done.returncode != 0:
        return f"exit {done.returncode}: {done.stderr[-3000:]}"
    return top3_scored(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="the built wheel (python -m build)")
    args = parser.parse_args()
    wheel = args.wheel.resolve()
    failures = 0
    for i, (extra, code) in enumerate(blocks(ROOT / "README.md")):
        with tempfile.TemporaryDirectory(prefix="rerank-readme-") as tmp:
            folder = Path(tmp)
            print(f"== README block {i + 1} with [{extra}], in a fresh virtualenv under {tmp}")
            problem = check_block(wheel, extra, code, folder)
        if problem:
            failures += 1
            print(f"   FAILED: {problem}")
        else:
            print("   ok: the top 3 were reranked")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
