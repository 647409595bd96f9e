"""End to end: ``rerank-plugins eval`` and ``demo`` on small real runs; the reports they write."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rerank_plugins.cli import main
from rerank_plugins.evaluation.demo import DEFAULT_RERANKER

TOPICS = [
    ("vitamin", "Vitamin D supplementation and bone fractures in older adults"),
    ("insulin", "Insulin resistance in type 2 diabetes and the role of the liver"),
    ("malaria", "Malaria transmission by Anopheles mosquitoes in Africa"),
    ("telomere", "Telomere shortening during cell division and ageing"),
    ("antibiotic", "Antibiotic resistance spread by horizontal gene transfer in bacteria"),
    ("sleep", "Sleep deprivation impairs memory consolidation in adults"),
]


def write_tiny_beir(root: Path) -> Path:
    """Six topics, three abstracts each (one on-topic and relevant, two distractors)."""
    (root / "qrels").mkdir(parents=True)
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for i, (word, title) in enumerate(TOPICS):
        corpus.append({"_id": f"{word}-rel", "title": title, "text": f"We study {title.lower()}."})
        corpus.append(
            {
                "_id": f"{word}-near",
                "title": f"A note on {word}",
                "text": f"An editorial that mentions {word} once, about funding.",
            }
        )
        corpus.append({"_id": f"{word}-far", "title": "Unrelated", "text": f"Cooking pasta {i}."})
        queries.append({"_id": f"c{i}", "text": f"{title} claim"})
        qrels.append(f"c{i}\t{word}-rel\t1")
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n")
    return root


def _eval(tmp_path: Path, *extra: str) -> tuple[int, Path]:
    data = write_tiny_beir(tmp_path / "data")
    out = tmp_path / "out"
    code = main(
        [
            "eval",
            str(data),
            "--split",
            "test",
            "--out",
            str(out),
            "--k",
            "5",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
            *extra,
        ]
    )
    return code, out


def test_eval_writes_three_reports_with_consistent_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _eval(
        tmp_path, "--retriever", "bm25", "--reranker", "keyword", "--queries", "c1,c3"
    )
    assert code == 0
    printed = capsys.readouterr()
    for name in (
        "report.txt",
        "report.json",
        "report.md",
        "lift_per_query.png",
        "precision_at_k.png",
    ):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert (out / "lift_per_query.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((out / "report.json").read_text())
    assert report["metrics"] == ["P@1", "P@3", "P@5", "nDCG@10", "MRR@10", "Recall@5"]
    assert report["config"]["queries"] == 6 and report["config"]["k"] == 5
    # the means in the table are the means of the per-query values the JSON lists
    for metric in report["metrics"]:
        per_query = [q["metrics_after"][metric] for q in report["queries"]]
        assert report["comparisons"][metric]["after"] == pytest.approx(sum(per_query) / 6)
    c = report["comparisons"]["P@3"]
    assert c["improved"] + c["unchanged"] + c["hurt"] == pytest.approx(1.0)
    assert 0.0 <= c["p_value"] <= 1.0 and c["ci"][0] <= c["absolute_lift"] <= c["ci"][1]
    assert [v["query_id"] for v in report["showcase"]] == ["c1", "c3"]
    assert report["latency"]["p50_ms"] <= report["latency"]["p95_ms"]
    assert report["latency"]["budget_exhausted_rate"] == 0.0
    assert len(report["precision_at_k"]["before"]) == 5
    # the terminal report carries every figure, and the Markdown links its plots
    assert "P@3" in printed.out and "p50" in printed.out and "queries/s" in printed.out
    assert "Side by side" in printed.out and "Where the reranker was wrong" in printed.out
    assert "[c1] " + TOPICS[1][1] in printed.out
    assert "![per-query lift](lift_per_query.png)" in (out / "report.md").read_text()
    assert (out / "report.txt").read_text().startswith("rerank-plugins evaluation")


def test_eval_budget_and_top_n_are_honoured(tmp_path: Path) -> None:
    code, out = _eval(
        tmp_path,
        "--retriever",
        "bm25",
        "--reranker",
        "keyword",
        "--reranker-option",
        "delay_s=0.03",
        "--reranker-option",
        "unit_size=1",
        "--budget-ms",
        "45",
        "--top-n",
        "2",
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["latency"]["budget_exhausted_rate"] == 1.0  # one 30 ms unit fits, not two
    assert all(len(q["after"]) == 2 for q in report["queries"])
    assert report["config"]["top_n"] == 2 and report["config"]["budget_ms"] == 45.0


@pytest.mark.slow
def test_eval_dense_with_a_real_cross_encoder_and_cached_index(
    tmp_path: Path, cross_encoder_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"cross-encoder:{cross_encoder_path}"
    code, out = _eval(
        tmp_path, "--reranker", spec, "--reranker-option", 'device="cpu"', "--device", "cpu"
    )
    assert code == 0
    assert "corpus index built" in capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["retriever"] == "dense:all-MiniLM-L6-v2"
    assert report["config"]["reranker"].startswith("cross-encoder:")
    # a good bi-encoder finds each topic's abstract first on this easy data
    assert report["comparisons"]["P@1"]["before"] == 1.0
    # second run: the corpus embeddings come from the cache
    code = main(
        [
            "eval",
            str(tmp_path / "data"),
            "--split",
            "test",
            "--out",
            str(tmp_path / "o2"),
            "--k",
            "5",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-progress",
            "--reranker",
            "keyword",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert "corpus index loaded from cache" in capsys.readouterr().err


def test_malformed_dataset_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_tiny_beir(tmp_path / "data")
    with (data / "queries.jsonl").open("a") as fh:
        fh.write('{"_id": "c9", "text": oops}\n')
    code = main(["eval", str(data), "--split", "test", "--reranker", "keyword"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"rerank-plugins eval: error: {data / 'queries.jsonl'}, line 7: not valid JSON" in err


def test_unknown_reranker_and_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_tiny_beir(tmp_path / "data")
    assert main(["eval", str(data), "--split", "test", "--reranker", "nope:x"]) == 2
    assert "Unknown reranker backend 'nope'" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", str(data), "--top-n", "0"])
    assert exit_info.value.code == 2
    assert "--top-n: top_n must be a positive integer or None, got 0" in capsys.readouterr().err
    code = main(
        [
            "eval",
            str(data),
            "--split",
            "test",
            "--reranker",
            "keyword",
            "--retriever",
            "bm25",
            "--queries",
            "zzz",
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-progress",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "--queries zzz: not among the 6 queries this run evaluates" in capsys.readouterr().err


def bm25_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str], limit: str, *extra: str) -> str:
    """Run ``demo`` over the first ``limit`` bundled claims, a BM25 first stage cached under
    ``tmp_path``, quiet; checks it succeeded and returns what it printed."""
    cache = str(tmp_path / "cache")
    code = main(["demo", "--retriever", "bm25", "--limit", limit, "--cache-dir", cache,
                 "--no-progress", *extra])  # fmt: skip
    assert code == 0
    return capsys.readouterr().out


def test_demo_on_bundled_data_says_what_it_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = bm25_demo(tmp_path, capsys, "12", "--reranker", "keyword")
    assert "12 SciFact claims (the project's development split) over 5183 abstracts" in out
    assert "CC BY-NC 2.0" in out and "Reranker: keyword:word-overlap" in out
    assert "first stage" in out and "reranked" in out  # the side-by-side header
    assert "In short: P@3 " in out and "paired randomization test, 12 queries" in out


def test_demo_runs_the_bundled_reranker_on_the_runtime_auto_picks_and_says_which(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rerank_plugins.scorers.local import choose_runtime

    out = bm25_demo(tmp_path, capsys, "2", "--k", "5")
    expected = choose_runtime("cpu")
    assert f"on runtime '{expected}' (auto: {expected.why})" in out


def test_demo_and_eval_name_their_runtime_default_in_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command, words in (("demo", "runtime=auto (bf16 where"), ("eval", "runtime=torch (fp32")):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert words in " ".join(capsys.readouterr().out.split())


def test_demo_falls_back_honestly_when_the_reranker_cannot_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the demo's own default falls back (issue 32): an explicit --reranker that cannot
    # load is exit 2 (tests/test_cli_before_work.py). Here the default itself is missing.
    import rerank_plugins.evaluation.demo as demo

    missing = tmp_path / "no-such-model"
    monkeypatch.setattr(demo, "DEFAULT_RERANKER", f"cross-encoder:{missing}")
    out = bm25_demo(tmp_path, capsys, "5")
    assert f"NOTE: The reranker 'cross-encoder:{missing}' could not be loaded" in out
    assert "uses 'keyword' instead: word overlap" in out
    assert "Reranker used: keyword:word-overlap, a fallback" in out


def test_default_reranker_is_one_constant() -> None:
    assert DEFAULT_RERANKER == "cross-encoder:bundled:scifact-minilm"


def test_train_delegates_or_explains(capsys: pytest.CaptureFixture[str]) -> None:
    if importlib.util.find_spec("rerank_plugins.training.cli") is None:
        assert main(["train"]) == 2
        assert "the training command is not available" in capsys.readouterr().err
    else:
        with pytest.raises(SystemExit) as exit_info:
            main(["train", "--help"])
        assert exit_info.value.code == 0
        assert "rerank-plugins train" in capsys.readouterr().out


def test_python_dash_m_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rerank_plugins", "--help"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0
    assert "eval" in done.stdout and "demo" in done.stdout and "train" in done.stdout


def test_progress_in_a_log_is_one_line_per_stage_not_carriage_returns(tmp_path: Path) -> None:
    data = write_tiny_beir(tmp_path / "data")
    command = [sys.executable, "-m", "rerank_plugins", "eval", str(data), "--split", "test"]
    command += ["--retriever", "bm25", "--reranker", "keyword", "--k", "5"]
    command += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)  # stderr: a pipe
    assert done.returncode == 0, done.stderr
    assert "\r" not in done.stderr, "progress bars were written into a log"
    assert "loading or building the corpus index" in done.stderr
    assert "reranking 6 queries with keyword:" in done.stderr
