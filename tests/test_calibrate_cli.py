"""End to end: ``rerank-plugins calibrate`` on a small judged set, and ``eval`` with its file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rerank_plugins import Calibration, Reranker
from rerank_plugins.cli import main
from rerank_plugins.testing import KeywordScorer

WORDS = "vitamin insulin malaria telomere antibiotic sleep liver bone fever virus gene memory"


def write_judged_beir(root: Path, queries: int = 40) -> Path:
    """``queries`` claims of three words each; per claim an abstract with all three (relevant),
    one with two (relevant for every third claim: judgements are not a function of overlap) and
    one with one word (not relevant)."""
    words = WORDS.split()
    (root / "qrels").mkdir(parents=True)
    corpus, lines, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for i in range(queries):
        claim = [words[i % 12], words[(i * 5 + 1) % 12], f"w{i}"]
        for name, kept in (("all", claim), ("two", claim[:2]), ("one", claim[2:])):
            corpus.append({"_id": f"c{i}-{name}", "title": "", "text": " ".join(kept) + " study"})
        lines.append({"_id": f"c{i}", "text": " ".join(claim)})
        qrels.append(f"c{i}\tc{i}-all\t1")
        if i % 3 == 0:
            qrels.append(f"c{i}\tc{i}-two\t1")
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(d) for d in corpus) + "\n")
    (root / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in lines) + "\n")
    (root / "qrels" / "train.tsv").write_text("\n".join(qrels) + "\n")
    return root


def calibrate(tmp_path: Path, *extra: str) -> int:
    data = tmp_path / "data"
    if not data.exists():
        write_judged_beir(data)
    return main(["calibrate", str(data), *quick_run(tmp_path), *extra])


def quick_run(tmp_path: Path) -> list[str]:
    """The keyword scorer over a BM25 top 3, cached under ``tmp_path``, quiet: the flags every
    command of these tests runs with."""
    cache = str(tmp_path / "cache")
    return ["--reranker", "keyword", "--retriever", "bm25", "--k", "3", "--cache-dir", cache,
            "--no-progress"]  # fmt: skip


def test_calibrate_fits_checks_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cal" / "keyword.json"
    assert calibrate(tmp_path, "--out", str(out)) == 0
    printed = capsys.readouterr().out
    cal = Calibration.load(out)
    assert (cal.backend, cal.model, cal.method) == ("keyword", "word-overlap", "platt")
    assert cal.data == "data qrels/train.tsv, subset fit (28 queries)"
    assert cal.first_stage == "bm25(k1=0.9, b=0.4) top-3"
    train = [i for i in range(40) if i % 5]  # the fixed split: dev is every 5th line
    fit = [i for i in train if i not in train[::8]]  # validation is every 8th training claim
    judged = 28 + sum(i % 3 == 0 for i in fit)  # the relevant ones BM25's top 3 can hold
    assert cal.pairs == 28 * 3 and 0 < cal.positives <= judged
    assert cal.metrics["evaluated_on"] == "data qrels/train.tsv, subset validation (4 queries)"
    for key in ("ece", "brier", "log_loss"):
        assert f"{key}_before" in cal.metrics and f"{key}_after" in cal.metrics
    assert (tmp_path / "cal" / "keyword.png").read_bytes()[:4] == b"\x89PNG"
    assert "ECE" in printed and "Brier" in printed and "log-loss" in printed
    assert "min_score  pairs kept  share kept  precision  recall" in printed
    for threshold in ("0.1", "0.3", "0.5", "0.7", "0.9"):
        assert f"\n      {threshold} " in printed
    # the file works: a scorer given it reports its probabilities
    scorer = KeywordScorer(calibration=out)
    result = Reranker(scorer).rerank("vitamin insulin", ["vitamin insulin", "bone"])
    assert [it.score for it in result] == cal.apply([1.0, 0.0])


def test_calibrate_never_overwrites_silently_and_checks_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keyword.json"
    out.write_text("{}")
    # refused before any work: the dataset does not even exist
    code = main(
        ["calibrate", str(tmp_path / "missing"), "--reranker", "keyword", "--out", str(out)]
    )
    assert code == 2
    assert capsys.readouterr().err.strip() == (
        f"rerank-plugins calibrate: error: {out} already exists; pass --overwrite to replace it, "
        f"or another --out."
    )
    assert out.read_text() == "{}"
    assert calibrate(tmp_path, "--out", str(out), "--overwrite") == 0
    assert Calibration.load(out).backend == "keyword"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--subset", "train", "--check-subset", "train"],
            "--subset train and --check-subset train overlap; a calibration is checked on "
            "queries it was not fit on (e.g. --subset fit --check-subset validation).",
        ),
        (["--subset", "all"], "--subset all and --check-subset validation overlap"),
        (["--out", "x.txt"], "--out must name a .json file, got 'x.txt'."),
    ],
)
def test_calibrate_mistakes_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert calibrate(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rerank-plugins calibrate: error: {message}")
    assert err.count("\n") == 1


def test_eval_reports_calibration_with_the_calibrated_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cal_path = tmp_path / "keyword.json"
    assert calibrate(tmp_path, "--out", str(cal_path)) == 0
    cal = Calibration.load(cal_path)
    out = tmp_path / "report"
    code = main(
        [
            "eval",
            str(tmp_path / "data"),
            "--split",
            "train",
            "--subset",
            "dev",
            *quick_run(tmp_path),
            "--reranker-option",
            f"calibration={cal_path}",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["calibration"].startswith("platt: P = sigmoid(")
    section = report["calibration"]
    assert section["pairs"] == 8 * 3
    assert [row["min_score"] for row in section["thresholds"]] == [0.1, 0.3, 0.5, 0.7, 0.9]
    # per-query scores are the calibrated relevance_score of the keyword overlap
    for query in report["queries"]:
        text = {d: t for d, t in _corpus(tmp_path / "data").items()}
        raw = [
            KeywordScorer().score_unit(query["query"], [text[d]], timeout=None).scores[0]
            for d in query["after"]
        ]
        assert query["scores"] == pytest.approx(cal.apply(raw))
    assert (out / "reliability.png").is_file()
    md = (out / "report.md").read_text()
    assert "## Calibration" in md and "![reliability diagram](reliability.png)" in md
    assert "| min_score | pairs kept | share kept | precision | recall |" in md
    assert "Scores: calibrated P(relevant)" in printed and "What min_score keeps:" in printed


def _corpus(root: Path) -> dict[str, str]:
    rows = [json.loads(line) for line in (root / "corpus.jsonl").read_text().splitlines()]
    return {row["_id"]: row["text"] for row in rows}
