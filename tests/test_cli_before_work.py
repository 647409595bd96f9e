"""The command line refuses before working (issue 28 point 7, issue 32 point 4).

Each mistake is exit status 2 and one line on stderr, no traceback, and it comes before any work:
each case runs in a fresh interpreter that reports whether a model library (torch,
sentence-transformers, transformers) was ever imported, so "before any work" means no model was
loaded, not merely that the run was quick. Output folders are never overwritten silently.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import pytest

from rerank_plugins import ConfigurationError, cli
from rerank_plugins.data import scifact_path
from tests.test_eval_cli import write_tiny_beir

HEAVY = ("torch", "sentence_transformers", "transformers")

_RUNNER = f"""
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # as if not installed
from rerank_plugins.cli import main
code = main(json.loads(sys.argv[1]))
heavy = [m for m in {HEAVY!r} if sys.modules.get(m) is not None]
print(json.dumps({{"code": code, "heavy": heavy}}))
"""


def run_cli(argv: list[str], *, missing: tuple[str, ...] = ()) -> tuple[int, list[str], list[str]]:
    """Exit status, stderr's lines and the model libraries imported, in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, json.dumps(argv), *missing],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return report["code"], lines, report["heavy"]


def assert_refused(argv: list[str], message: str, *, missing: tuple[str, ...] = ()) -> None:
    code, lines, heavy = run_cli(argv, missing=missing)
    assert code == 2, lines
    assert len(lines) == 1 and message in lines[0], lines
    assert heavy == [], f"a model library was imported before the refusal: {heavy}"


SCIFACT = str(scifact_path())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--reranker", "nosuch"], "Unknown reranker backend 'nosuch'"),
        (["demo", "--reranker-option", "batch_size=0"],
         "CrossEncoderScorer got batch_size=0; pass an integer >= 1"),
        (["demo", "--reranker", "cross-encoder:"], "has an empty model part after ':'"),
        (["demo", "--queries", "99999"], "--queries 99999: not among the"),
        (["eval", SCIFACT, "--split", "dev", "--reranker", "keyword", "--queries", "99999"],
         "--queries 99999: not among the"),
    ],
)  # fmt: skip
def test_a_reranker_or_query_that_cannot_be_used_is_refused_before_work(argv, message):
    assert_refused(argv, message)


def test_an_explicit_reranker_that_cannot_load_is_refused_not_swapped(tmp_path):
    missing = tmp_path / "no-such-model"
    code, lines, _ = run_cli(["demo", "--reranker", f"cross-encoder:{missing}", "--no-progress"])
    assert code == 2 and len(lines) == 1, lines
    assert str(missing) in lines[0] and "keyword" not in lines[0]


def test_output_locations_are_checked_before_work(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "report.json").write_text("{}")
    base = ["eval", SCIFACT, "--split", "dev", "--reranker", "keyword", "--limit", "2"]
    assert_refused([*base, "--out", str(a_file)], f"--out {a_file} is a file; name a folder")
    assert_refused(
        [*base, "--out", str(a_file / "sub")], f"--out {a_file / 'sub'} lies under {a_file}"
    )
    assert_refused(
        [*base, "--out", "/proc/rerank-plugins-test/out"],
        "--out /proc/rerank-plugins-test/out cannot be written",
    )
    assert_refused(
        [*base, "--out", str(earlier)],
        f"--out {earlier} already holds a report (report.json); pass --overwrite to replace it",
    )
    assert (earlier / "report.json").read_text() == "{}"
    assert_refused(["demo", "--out", str(a_file)], f"--out {a_file} is a file")


def test_the_plots_dependency_is_checked_before_work(tmp_path):
    message = "pip install 'rerank-plugins[eval]'"
    argv = ["eval", SCIFACT, "--split", "dev", "--reranker", "keyword", "--out", str(tmp_path)]
    assert_refused(argv, message, missing=("matplotlib",))
    assert_refused(["demo", "--out", str(tmp_path / "d")], message, missing=("matplotlib",))


def test_train_checks_its_output_and_its_input_before_work(tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert_refused(
        ["train", "--preferences", str(a_file), "--output", str(a_file)],
        f"--output {a_file} is a file",
    )
    assert_refused(
        ["train", "--preferences", str(a_file), "--output", "/proc/rerank-plugins-test/run"],
        "--output /proc/rerank-plugins-test/run cannot be written",
    )
    earlier = tmp_path / "run"
    (earlier / "final").mkdir(parents=True)
    assert_refused(
        ["train", "--preferences", str(a_file), "--output", str(earlier)],
        f"--output {earlier} already holds a training run (final); pass --overwrite",
    )
    prefs = tmp_path / "prefs.jsonl"
    good = '{"query": "q", "chosen": "good", "rejected": ["bad"]}\n'
    prefs.write_bytes(good.encode() + '{"query": "caf\u00e9", "chosen": "a", "rejected": ["b"]}\n'
                      .encode("latin-1"))  # fmt: skip
    code, lines, _ = run_cli(
        ["train", "--preferences", str(prefs), "--output", str(tmp_path / "o")]
    )
    assert code == 2 and len(lines) == 1, lines
    assert f"{prefs}, line 2: is not UTF-8 (byte 0xe9 at column 15)" in lines[0]


def test_a_second_eval_into_the_same_folder_needs_overwrite(tmp_path, capsys):
    data = write_tiny_beir(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["eval", str(data), "--split", "test", "--retriever", "bm25", "--reranker", "keyword",
            "--k", "5", "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--out", str(out)]  # fmt: skip
    assert cli.main(argv) == 0
    first = (out / "report.json").read_text()
    capsys.readouterr()
    started = time.monotonic()
    assert cli.main([*argv, "--seed", "1"]) == 2
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert "already holds a report (report.txt, report.json, report.md)" in err
    assert (out / "report.json").read_text() == first
    assert cli.main([*argv, "--seed", "1", "--overwrite"]) == 0
    assert json.loads((out / "report.json").read_text())["config"]["seed"] == 1


def _parsers() -> list[argparse.ArgumentParser]:
    from rerank_plugins.training import cli as training_cli

    train = argparse.ArgumentParser(formatter_class=cli._HelpFormatter)
    training_cli.add_arguments(train)
    found = [train]
    for action in cli.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            found += [p for name, p in action.choices.items() if name != "train"]
    return found


def test_every_flag_shows_its_default_in_help():
    for parser in _parsers():
        formatter = parser._get_formatter()
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            text = formatter._get_help_string(action) if action.help else ""
            assert text and "default" in text.lower(), (parser.prog, action.option_strings)
    shown = cli.build_parser()._subparsers._group_actions[0].choices["eval"].format_help()
    assert "candidates retrieved per query (default: 20)" in shown
    assert "queries to sample for side by side (default: 3)" in shown


def test_a_refused_run_leaves_no_folder_behind(tmp_path):
    out = tmp_path / "new" / "reports"
    assert_refused(["demo", "--reranker", "nosuch", "--out", str(out)], "nosuch")
    assert_refused(["demo", "--queries", "99999", "--out", str(out)], "--queries 99999")
    assert not (tmp_path / "new").exists()


def test_overwrite_replaces_an_earlier_run_and_nothing_else(tmp_path):
    from rerank_plugins.evaluation.outputs import clear_earlier, prepare_output
    from rerank_plugins.training.cli import _RUN_FILES

    (tmp_path / "final").mkdir()
    (tmp_path / "final" / "weights.safetensors").write_bytes(b"x")
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(
        ConfigurationError, match=r"already holds a training run \(summary.json, final\)"
    ):
        prepare_output(tmp_path, flag="--output", holds=_RUN_FILES, what="a training run")
    assert (
        prepare_output(
            tmp_path, flag="--output", holds=_RUN_FILES, what="a training run", resume=True
        )
        == tmp_path
    )
    assert clear_earlier(tmp_path, _RUN_FILES) == ["summary.json", "final"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
