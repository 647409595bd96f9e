"""The contract's options are declared once (RerankOptions) and every entry point derives from it.

The core Reranker inherits the fields and reads them live; the adapters' fields (see
test_adapters_agree) and the command line's flags are made from the same declaration, with the
core's checks and messages.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from rerank_plugins import ConfigurationError, Reranker, RerankOptions
from rerank_plugins.cli import build_parser
from rerank_plugins.testing import KeywordScorer

DECLARED = [spec.name for spec in dataclasses.fields(RerankOptions)]
TEXTS = ["dogs", "cats", "cats and dogs"]


def test_the_reranker_takes_exactly_the_declared_options():
    params = inspect.signature(Reranker).parameters
    assert list(params) == ["scorer", *DECLARED]
    for spec in dataclasses.fields(RerankOptions):
        assert params[spec.name].kind is inspect.Parameter.KEYWORD_ONLY
        assert params[spec.name].default == spec.default


def test_a_reranker_option_assigned_later_is_checked_and_takes_effect():
    reranker = Reranker(KeywordScorer(), top_n=1)
    assert len(reranker.rerank("cats", TEXTS)) == 1
    reranker.top_n = 2
    assert len(reranker.rerank("cats", TEXTS)) == 2
    with pytest.raises(ConfigurationError, match="top_n must be a positive integer"):
        reranker.top_n = 0
    assert reranker.top_n == 2  # a refused assignment changes nothing
    assert reranker.options == RerankOptions(top_n=2)


def test_the_options_snapshot_does_not_follow_later_assignments():
    reranker = Reranker(KeywordScorer(), budget_ms=100)
    snapshot = reranker.options
    reranker.budget_ms = 50
    assert snapshot.budget_ms == 100 and reranker.options.budget_ms == 50


@pytest.mark.parametrize("command", ["eval", "demo"])
def test_every_declared_option_is_a_flag_with_the_declared_help(command):
    sub = build_parser()._subparsers._group_actions[0].choices[command]  # type: ignore[union-attr]
    actions = {a.dest: a for a in sub._actions}
    for spec in dataclasses.fields(RerankOptions):
        action = actions[spec.name]
        assert action.option_strings == ["--" + spec.name.replace("_", "-")]
        assert spec.metadata["doc"] in action.help


@pytest.mark.parametrize(
    ("flag", "text", "value"),
    [("--top-n", "3", 3), ("--top-n", "none", None), ("--min-score", "0.5", 0.5),
     ("--budget-ms", "250", 250.0), ("--on-error", "raise", "raise"), ("--blend", "none", None),
     ("--max-candidates", "10", 10)],
)  # fmt: skip
def test_flags_convert_to_the_declared_types(flag, text, value):
    args = build_parser().parse_args(["eval", "data", flag, text])
    assert getattr(args, flag[2:].replace("-", "_")) == value


@pytest.mark.parametrize(
    ("flag", "text", "option"),
    [("--top-n", "0", "top_n"), ("--min-score", "2", "min_score"), ("--blend", "-1", "blend"),
     ("--budget-ms", "abc", "budget_ms"), ("--on-error", "skip", "on_error")],
)  # fmt: skip
def test_a_bad_flag_gets_the_cores_message_and_exit_code_2(flag, text, option, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["eval", "data", flag, text])
    assert info.value.code == 2
    err = capsys.readouterr().err
    with pytest.raises(ConfigurationError) as core:
        RerankOptions(**{option: text if option in ("budget_ms", "on_error") else float(text)})
    expected = str(core.value).split(", got")[0]
    assert f"argument {flag}: {expected}" in err
    assert "Traceback" not in err
