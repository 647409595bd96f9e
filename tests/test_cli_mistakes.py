"""Ordinary command-line mistakes are a message and exit status 2, never a traceback."""

from __future__ import annotations

import pytest

from rerank_plugins.cli import main
from rerank_plugins.data import scifact_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    status = main(list(argv))
    err = capsys.readouterr().err
    return status, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--reranker", "keyword", "--reranker-option", "batch_size=abc"],
         "KeywordScorer ('keyword') has no option 'batch_size'; its options are: calibration, config_error"),
        (["--reranker", "keyword", "--reranker-option", "bogus=1"], "has no option 'bogus'"),
        (["--reranker", "keyword", "--reranker-option", "unit_size=abc"],
         "option 'unit_size' expects int (e.g. unit_size=4), got 'abc'"),
        (["--reranker", "cross-encoder:bundled:scifact-minilm", "--reranker-option",
          "batch_size=abc"], "option 'batch_size' expects int"),
        (["--reranker", "keyword", "--device", "cuda"], "--device cuda is not available"),
        (["--reranker", "nope"], "Unknown reranker backend 'nope'"),
    ],
)  # fmt: skip
def test_eval_mistakes_are_messages(capsys, argv, message):
    status, err = run(capsys, "eval", str(scifact_path()), "--split", "dev", "--limit", "2", *argv)
    assert status == 2
    assert message in err and "Traceback" not in err
