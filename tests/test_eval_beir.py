"""Loading BEIR folders, the fixed dev/train split, and the errors for malformed files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from rerank_plugins.data import SCIFACT_SPLIT, scifact_path
from rerank_plugins.evaluation import DatasetError, dev_train_split, load_beir


def write_beir(
    root: Path,
    *,
    corpus: list[str] | None = None,
    queries: list[str] | None = None,
    qrels: str | None = None,
    split: str = "test",
) -> Path:
    """A small BEIR folder; any file may be given as raw lines to make it malformed."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = (
        corpus
        if corpus is not None
        else [json.dumps({"_id": f"d{i}", "title": f"T{i}", "text": f"text {i}"}) for i in range(4)]
    )
    queries = (
        queries
        if queries is not None
        else [json.dumps({"_id": f"q{i}", "text": f"query {i}"}) for i in range(7)]
    )
    qrels = (
        qrels
        if qrels is not None
        else ("query-id\tcorpus-id\tscore\nq0\td0\t1\nq1\td1\t1\nq2\td2\t2\nq5\td3\t1\nq6\td0\t1\n")
    )
    (root / "corpus.jsonl").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(queries) + "\n", encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / f"{split}.tsv").write_text(qrels, encoding="utf-8")
    return root


def test_loads_a_folder(tmp_path: Path) -> None:
    ds = load_beir(write_beir(tmp_path / "ds"), split="test")
    assert ds.corpus["d1"] == ("T1", "text 1")
    assert ds.document_text("d1") == "T1 text 1"
    assert list(ds.queries) == [f"q{i}" for i in range(7)]
    assert ds.qrels == {
        "q0": {"d0": 1},
        "q1": {"d1": 1},
        "q2": {"d2": 2},
        "q5": {"d3": 1},
        "q6": {"d0": 1},
    }
    assert ds.judged_query_ids == ["q0", "q1", "q2", "q5", "q6"]
    assert ds.split == "test"


def test_fixed_split_uses_line_index_among_judged_queries(tmp_path: Path) -> None:
    ds = load_beir(write_beir(tmp_path / "ds"), split="test")
    dev, train = dev_train_split(ds)
    # lines 0 and 5 are multiples of 5 and judged; line 4 (q4) is unjudged, so in neither
    assert dev == ["q0", "q5"]
    assert train == ["q1", "q2", "q6"]


def test_blank_lines_keep_line_indices(tmp_path: Path) -> None:
    queries = [
        json.dumps({"_id": "q0", "text": "a"}),
        "",
        json.dumps({"_id": "q2", "text": "b"}),
        "",
        "",
        json.dumps({"_id": "q5", "text": "c"}),
    ]
    ds = load_beir(
        write_beir(tmp_path / "ds", queries=queries, qrels="q0\td0\t1\nq2\td1\t1\nq5\td2\t1\n"),
        split="test",
    )
    assert ds.query_lines == {"q0": 0, "q2": 2, "q5": 5}
    assert dev_train_split(ds) == (["q0", "q5"], ["q2"])


def test_gzipped_corpus_and_integer_ids(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "ds")
    (root / "corpus.jsonl").unlink()
    with gzip.open(root / "corpus.jsonl.gz", "wt", encoding="utf-8") as fh:
        for i in range(4):
            fh.write(json.dumps({"_id": f"d{i}", "text": f"t{i}"}) + "\n")
        fh.write(json.dumps({"_id": 99, "text": "numeric id"}) + "\n")
    ds = load_beir(root, split="test")
    assert ds.corpus["99"] == ("", "numeric id")
    assert ds.document_text("d0") == "t0"


def test_restrict_keeps_only_chosen_queries(tmp_path: Path) -> None:
    ds = load_beir(write_beir(tmp_path / "ds"), split="test")
    small = ds.restrict(["q5", "q1"])
    assert list(small.queries) == ["q5", "q1"] and set(small.qrels) == {"q5", "q1"}
    assert ds.qrels["q5"] == {"d3": 1}  # the original is untouched
    with pytest.raises(DatasetError, match=r"1 query id\(s\) are not in .*queries.jsonl: nope"):
        ds.restrict(["nope"])


def test_bundled_scifact_is_the_dev_split() -> None:
    ds = load_beir(scifact_path(), split=SCIFACT_SPLIT)
    dev, train = dev_train_split(ds)
    assert len(ds.corpus) == 5183 and len(ds.queries) == 809
    assert len(dev) == 162 and train == []
    assert all(ds.query_lines[q] % 5 == 0 for q in dev)


# --- errors: which file, which line, what to do -------------------------------------------


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetError,
        match=r"does not exist or is not a folder; pass a folder in "
        r"BEIR layout \(corpus.jsonl, queries.jsonl",
    ):
        load_beir(tmp_path / "nowhere")


def test_missing_corpus_file(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "ds")
    (root / "corpus.jsonl").unlink()
    with pytest.raises(
        DatasetError,
        match=r"corpus.jsonl is missing; a BEIR folder needs "
        r"corpus.jsonl \(or corpus.jsonl.gz\)",
    ):
        load_beir(root, split="test")


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    corpus = [json.dumps({"_id": "d0", "text": "ok"}), '{"_id": "d1", "text": ']
    with pytest.raises(DatasetError) as err:
        load_beir(write_beir(tmp_path / "ds", corpus=corpus, qrels="q0\td0\t1\n"), split="test")
    assert str(tmp_path / "ds" / "corpus.jsonl") + ", line 2: not valid JSON" in str(err.value)


_JUDGED = "q0\td0\t1\n"
_HEADER = "query-id\tcorpus-id\tscore\n"
_REPEATED = (("q0", "a"), ("q1", "b"), ("q0", "c"))


def _doc(**fields: str) -> str:
    return json.dumps(fields)


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(
            {"split": "train"},
            r"No judgements for split 'test': .*test.tsv does not exist \(available splits: "
            r"train\)",
            id="missing-split-lists-available-ones",
        ),
        pytest.param(
            {"queries": [_doc(_id="q0", text="a"), "[1, 2]"], "qrels": _JUDGED},
            r"queries.jsonl, line 2: expected a JSON object, got list",
            id="not-an-object",
        ),
        pytest.param(
            {"corpus": [_doc(_id="d0", text="ok"), _doc(_id="d1", title="x")], "qrels": _JUDGED},
            r"corpus.jsonl, line 2: field 'text' must be a string, got nothing",
            id="missing-text-field",
        ),
        pytest.param(
            {"corpus": [_doc(text="no id")], "qrels": _JUDGED},
            r"corpus.jsonl, line 1: field '_id' must be a non-empty string, got nothing",
            id="missing-id",
        ),
        pytest.param(
            {"queries": [_doc(_id=q, text=t) for q, t in _REPEATED], "qrels": _JUDGED},
            r"queries.jsonl, line 3: query id 'q0' repeats line 1",
            id="duplicate-id",
        ),
        pytest.param(
            {"queries": [_doc(_id="q0", text="   ")], "qrels": _JUDGED},
            r"queries.jsonl, line 1: query 'q0' has blank text",
            id="blank-query-text",
        ),
        pytest.param(
            {"qrels": _HEADER + "q0\td0\t1\nq1 d1 1\n"},
            r"test.tsv, line 3: expected 3 tab-separated columns \(query-id, corpus-id, score\), "
            r"got 1",
            id="qrels-wrong-columns",
        ),
        pytest.param(
            {"qrels": _HEADER + "q0\td0\thigh\n"},
            r"test.tsv, line 2: score must be an integer, got 'high'",
            id="qrels-bad-score",
        ),
        pytest.param(
            {"qrels": "q0\td0\t1\nqX\td0\t1\n"},
            r"test.tsv, line 2: query id 'qX' is not in queries.jsonl",
            id="qrels-unknown-query",
        ),
        pytest.param(
            {"qrels": "q0\tdX\t1\n"},
            r"test.tsv, line 1: document id 'dX' is not in the corpus",
            id="qrels-unknown-document",
        ),
        pytest.param({"corpus": [""]}, r"corpus.jsonl has no documents", id="empty-corpus"),
        pytest.param({"qrels": _HEADER}, r"test.tsv has no judgements", id="empty-qrels"),
    ],
)
def test_malformed_files_are_named_with_the_line(
    tmp_path: Path, files: dict[str, Any], message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        load_beir(write_beir(tmp_path / "ds", **files), "test")


def test_not_utf8(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "ds")
    (root / "queries.jsonl").write_bytes(b'{"_id": "q0", "text": "caf\xe9"}\n')
    with pytest.raises(DatasetError, match=r"queries.jsonl: not UTF-8 text"):
        load_beir(root, "test")
