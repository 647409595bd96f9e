"""One source for every figure: each generated table and page, rendered again from its committed
record, must equal what the docs show.

A figure quoted in two places reads one record (the model card's cost table and the performance
page both read ``benchmarks/results/bench_local.json``), so a page edited by hand, or a record
rerun without its pages, fails here. Also: no raw Markdown escapes in tables, and no code line
with a comment too long to read without scrolling.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TABLES = ROOT / "docs" / "assets" / "tables"


def _module(path: Path) -> ModuleType:
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # the benchmarks import their shared _common
    spec = importlib.util.spec_from_file_location(f"docs_figures_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _record(name: str) -> dict:
    return json.loads((RESULTS / name).read_text())


def _bench_local() -> str:
    return (
        _module(ROOT / "benchmarks" / "bench_local.py").markdown(_record("bench_local.json")) + "\n"
    )


def _bench_fidelity() -> str:
    return _module(ROOT / "benchmarks" / "bench_fidelity.py").render(_record("bench_fidelity.json"))


def _bench_bucketing() -> str:
    return _module(ROOT / "benchmarks" / "bench_bucketing.py").render(
        _record("bench_bucketing.json")
    )


def _bench_budget() -> str:
    return _module(ROOT / "benchmarks" / "bench_budget.py").render(_record("bench_budget.json"))


def _corpus_only() -> str:
    return _module(ROOT / "docs" / "scripts" / "corpus_only_report.py").render(
        _record("corpus_only.json")
    )


def _distill_students() -> str:
    return _module(ROOT / "docs" / "scripts" / "distill_report.py").render(
        _record("distill_students.json")
    )


def _distill_choices() -> str:
    return _module(ROOT / "docs" / "scripts" / "distill_report.py").render_choices(
        _record("distill_choices.json")
    )


def _distill_cascade() -> str:
    dev, timing = (
        _record(name) if (RESULTS / name).is_file() else None
        for name in ("cascade_dev.json", "cascade_time.json")
    )
    return _module(ROOT / "docs" / "scripts" / "distill_report.py").render_cascade(
        _record("cascade.json"), dev, timing
    )


def _distill_early_exit() -> str:
    screen = _record("screen_student.json") if (RESULTS / "screen_student.json").is_file() else None
    return _module(ROOT / "docs" / "scripts" / "distill_report.py").render_early_exit(
        _record("early_exit.json"), screen
    )


def _architecture() -> str:
    return _module(ROOT / "docs" / "scripts" / "architecture.py").render()


GENERATED = {
    "architecture.md": _architecture,
    "bench-local.md": _bench_local,
    "bench-fidelity.md": _bench_fidelity,
    "bench-bucketing.md": _bench_bucketing,
    "bench-budget.md": _bench_budget,
    "corpus-only.md": _corpus_only,
    "distill-students.md": _distill_students,
    "distill-choices.md": _distill_choices,
    "distill-cascade.md": _distill_cascade,
    "distill-early-exit.md": _distill_early_exit,
}


@pytest.mark.parametrize("table", sorted(GENERATED))
def test_a_generated_table_reads_as_its_record_renders(table):
    assert (TABLES / table).read_text() == GENERATED[table](), (
        f"docs/assets/tables/{table} differs from its record; rerender it with its script's "
        f"--render option (or rerun the script) instead of editing it"
    )


def test_both_model_cards_read_as_the_records_render():
    text = _module(ROOT / "docs" / "scripts" / "model_card.py").render()
    assert (ROOT / "docs" / "model-card.md").read_text() == text, (
        "run python docs/scripts/model_card.py"
    )
    assert (ROOT / "rerank_plugins" / "models" / "MODEL_CARD.md").read_text() == text


def test_the_model_card_cost_and_the_performance_page_quote_the_same_run():
    card = (ROOT / "docs" / "model-card.md").read_text()
    page = (TABLES / "bench-local.md").read_text()
    cost = card.split("## Cost", 1)[1].split("\n## ", 1)[0]
    quoted = re.findall(r"^\| `([\w-]+)`[^|]* \| (\d+) \| (\d+) \|$", cost, re.M)
    assert quoted, cost
    for runtime, p50, p95 in quoted:
        row = re.search(
            rf"^\| CrossEncoderScorer {re.escape(runtime)} @256 windows \| (\d+) \| (\d+) \|",
            page,
            re.M,
        )
        assert row is not None, runtime
        assert (p50, p95) == row.groups(), (runtime, (p50, p95), row.groups())


def test_the_model_card_says_what_the_bundled_reranker_is_for():
    card = (ROOT / "docs" / "model-card.md").read_text()
    assert "## What it is for" in card and "SciFact-like text only" in card
    assert "cross-encoder/ms-marco-MiniLM-L6-v2" in card


def _pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_no_table_shows_an_escaped_pipe_inside_code():
    # Python-Markdown keeps the backslash of `a\|b` inside code in a table cell.
    bad = [
        f"{page.relative_to(ROOT)}: {line}"
        for page in _pages()
        for line in page.read_text().splitlines()
        if line.startswith("|") and re.search(r"`[^`]*\\\|[^`]*`", line)
    ]
    assert not bad, bad


def test_no_code_comment_runs_past_a_readable_width():
    long = []
    for page in _pages():
        for block in re.findall(r"```[a-z]*\n(.*?)```", page.read_text(), re.S):
            long += [
                f"{page.relative_to(ROOT)}: {line}"
                for line in block.splitlines()
                if len(line) > 100 and re.search(r"(^|\s)#\s", line)
            ]
    assert not long, long
