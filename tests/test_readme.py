"""The README's Python blocks run as written, offline.

Each fenced ``python`` block of README.md runs verbatim (nothing injected, nothing replaced) in its
own process, here in the test environment; ``.ci/run`` runs them again from the built wheel in
fresh virtualenvs outside the clone (``scripts/readme_from_wheel.py``). Either way the block must
print the top 3, each reranked (a score, not ``None``), on its first query.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "readme_from_wheel", ROOT / "scripts" / "readme_from_wheel.py"
)
assert _spec is not None and _spec.loader is not None
readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readme)


def test_the_readme_has_both_quick_starts_with_their_extras():
    extras = [extra for extra, _ in readme.blocks(ROOT / "README.md")]
    assert extras == ["llama-index-local", "langchain-local"]
    pyproject = (ROOT / "pyproject.toml").read_text()
    for extra in extras:
        assert f"\n{extra} = [" in pyproject


def test_the_check_refuses_unscored_or_short_results():
    assert readme.top3_scored("[(0.9, 3), (0.8, 0), (0.7, 12)]") is None
    assert "not all scored" in readme.top3_scored("[(0.9, 3), (None, 0), (None, 1)]")
    assert "expected the top 3" in readme.top3_scored("[(0.9, 3)]")
    assert "printed nothing" in readme.top3_scored("")


@pytest.mark.slow
@pytest.mark.parametrize("position", [0, 1], ids=["llama-index", "langchain"])
def test_a_readme_quick_start_runs_as_written(position, tmp_path):
    _, code = readme.blocks(ROOT / "README.md")[position]
    script = tmp_path / "quick_start.py"
    script.write_text(code)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert readme.top3_scored(done.stdout) is None, done.stdout[-1000:]
