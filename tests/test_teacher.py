"""Distillation from a teacher: labels from a scorer's opinion, saved lists, the train CLI's
``--teacher``, and the query-likelihood scorer (UPR) on a real LLM (Gemma 3 270M, offline)."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import pytest

from rerank_plugins import ConfigurationError, CrossEncoderScorer, Reranker
from rerank_plugins.scorers import from_spec, parse_option
from rerank_plugins.scorers.query_likelihood import QueryLikelihoodScorer
from rerank_plugins.testing import KeywordScorer
from rerank_plugins.training import RankingExample, cli, read_preferences, write_preferences
from rerank_plugins.training.synthetic import teacher_examples, teacher_logits
from tests.tiny_corpus import TOPICS, write_corpus


def test_teacher_labels_are_its_logits_shifted_to_zero_and_the_input_is_kept():
    ex = RankingExample("q", ("a", "b", "c"), (1.0, 0.0, 0.0))
    out = teacher_examples([ex], lambda q, texts: [-2.0, -1.0, -5.0], temperature=2.0)
    assert out[0].labels == (1.5, 2.0, 0.0) and out[0].texts == ex.texts
    assert ex.labels == (1.0, 0.0, 0.0)  # the input list is unchanged
    seen: list[tuple[int, int]] = []
    teacher_examples([ex, ex], lambda q, t: [0.0, 1.0, 2.0], progress=lambda *a: seen.append(a))
    assert seen == [(1, 2), (2, 2)]


@pytest.mark.parametrize(
    ("teacher", "message"),
    [(lambda q, t: [0.0], "one finite logit per text"),
     (lambda q, t: [0.0, math.nan], "one finite logit per text")],
)  # fmt: skip
def test_a_teacher_that_does_not_score_every_text_is_refused(teacher, message):
    ex = RankingExample("q", ("a", "b"), (1.0, 0.0))
    with pytest.raises(ConfigurationError, match=message):
        teacher_examples([ex], teacher)
    with pytest.raises(
        ConfigurationError, match=r"teacher_examples got temperature=0; pass a positive number\."
    ):
        teacher_examples([ex], lambda q, t: [0.0, 1.0], temperature=0)


def test_teacher_logits_read_each_kind_of_raw_score():
    keyword = teacher_logits(KeywordScorer())  # relevances in [0, 1]: their log
    low, high = keyword("cats purr", ["dogs bark", "cats purr loudly"])
    assert high > low and high <= 0.0


def test_lists_round_trip_through_a_preference_file(tmp_path):
    lists = [RankingExample("q1", ("a", "b"), (2.5, 0.0)), RankingExample("q2", ("c", "d"), (0, 1))]
    write_preferences(lists, tmp_path / "lists.jsonl")
    assert read_preferences(tmp_path / "lists.jsonl") == [
        RankingExample("q1", ("a", "b"), (2.5, 0.0)),
        RankingExample("q2", ("c", "d"), (0.0, 1.0)),
    ]
    with pytest.raises(Exception, match="non-negative labels"):
        write_preferences([RankingExample("q", ("a", "b"), (-1.0, 0.0))], tmp_path / "bad.jsonl")
    assert not (tmp_path / "bad.jsonl").exists()


def test_parse_option_reads_json_values_and_names_the_shape():
    assert parse_option("batch_size=16") == ("batch_size", 16)
    assert parse_option("prompt=A: {passage}") == ("prompt", "A: {passage}")
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_option("batch_size")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser


def test_train_with_a_teacher_end_to_end_and_again_from_its_saved_lists(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("RERANK_PLUGINS_CACHE", str(tmp_path / "cache"))
    write_corpus(tmp_path / "docs")
    teacher = "cross-encoder:bundled:scifact-minilm"
    common = ["--method", "top_layers", "--top-layers", "1", "--max-length", "48",
              "--batch-size", "4", "--candidates", "4", "--roundtrip-k", "3",
              "--hard-negatives", "2", "--random-negatives", "1", "--no-progress",
              "--loss", "listnet"]  # fmt: skip
    out = tmp_path / "out"
    args = _parser().parse_args(
        ["--corpus", str(tmp_path / "docs"), "--output", str(out), *common, "--teacher", teacher,
         "--teacher-option", "runtime=torch", "--teacher-option", "max_length=48"]
    )  # fmt: skip
    assert cli.run(args) == 0
    err = capsys.readouterr().err
    assert f"the teacher {teacher} labels" in err and "s a list here" in err  # cost first
    lists = read_preferences(out / "teacher_lists.jsonl")
    assert lists and all(min(ex.labels) == 0.0 for ex in lists)
    # The labels are the teacher's logits, shifted: the differences match the scorer's own.
    scorer = CrossEncoderScorer("bundled:scifact-minilm", runtime="torch", max_length=48)
    raw = scorer.score_unit(lists[0].query, list(lists[0].texts), timeout=None).scores
    want = [float(x) - min(float(y) for y in raw) for x in raw]
    assert lists[0].labels == pytest.approx(want, abs=1e-3)
    manifest = json.loads((out / "best" / "reranker.json").read_text())
    taught = manifest["recipe"]["corpus"]["teacher"]
    assert taught["spec"] == teacher and taught["seconds"] > 0
    assert taught["options"] == {"runtime": "torch", "max_length": 48}
    # The saved lists train again without the teacher (the slow pass runs once).
    again = _parser().parse_args(
        ["--preferences", str(out / "teacher_lists.jsonl"), "--output", str(tmp_path / "again"),
         *common]
    )  # fmt: skip
    assert cli.run(again) == 0
    artifact = json.loads((tmp_path / "again" / "summary.json").read_text())["artifact"]
    result = Reranker(CrossEncoderScorer(artifact, runtime="torch"))
    assert len(result.rerank("Do cats purr?", [t for _, t in TOPICS.values()]).items) == 5


def test_train_with_a_teacher_names_what_it_needs(tmp_path, capsys):
    write_corpus(tmp_path / "docs")
    base = ["--corpus", str(tmp_path / "docs"), "--output", str(tmp_path / "o"), "--teacher",
            "cross-encoder:bundled:scifact-minilm"]  # fmt: skip
    assert cli.run(_parser().parse_args(base)) == 2
    assert "add --loss listnet (got --loss softmax)" in capsys.readouterr().err
    judged = ["--beir", str(tmp_path / "docs"), "--loss", "listnet"]
    assert cli.run(_parser().parse_args([*base, *judged])) == 2
    assert "--teacher labels the lists made from --corpus DIR, alone" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse names the KEY=VALUE shape
        _parser().parse_args([*base, "--teacher-option", "prompt"])
    assert "expected KEY=VALUE" in capsys.readouterr().err


# ---------------------------------------------------------------- query likelihood, real Gemma


@pytest.fixture(scope="module")
def gemma() -> Any:
    from rerank_plugins.models.gemma import load_gemma

    return load_gemma()


@pytest.mark.slow
def test_query_likelihood_is_the_models_own_log_probability_of_the_query(gemma: Any) -> None:
    torch = pytest.importorskip("torch")
    scorer = QueryLikelihoodScorer(gemma.model, tokenizer=gemma.tokenizer, bf16=False)
    texts = [TOPICS["cat"][1], TOPICS["stocks"][1]]
    got = scorer.log_likelihoods("cats purr", texts)
    tok = gemma.tokenizer
    query = tok(" cats purr", add_special_tokens=False)["input_ids"]
    for text, value in zip(texts, got, strict=True):
        prefix = tok(f"Passage: {text}\nA search query this passage answers:")["input_ids"]
        with torch.inference_mode():
            logits = gemma.model(torch.tensor([prefix + query])).logits[0].float()
        logp = torch.log_softmax(logits, dim=-1)
        want = sum(float(logp[len(prefix) - 1 + i, t]) for i, t in enumerate(query))
        assert value == pytest.approx(want, abs=1e-3)
    assert got[0] > got[1]  # the passage about purring makes "cats purr" likelier
    moved = QueryLikelihoodScorer(gemma.model, tokenizer=gemma.tokenizer, device="cuda:1")
    with pytest.raises(ConfigurationError, match="move the model yourself"):
        moved.prepare()
    assert str(next(gemma.model.parameters()).device) == "cpu"  # the caller's model stays put


@pytest.mark.slow
def test_a_pairs_likelihood_is_the_same_alone_and_in_a_padded_batch(gemma: Any) -> None:
    scorer = QueryLikelihoodScorer(gemma.model, tokenizer=gemma.tokenizer, bf16=False)
    texts = [t for _, t in TOPICS.values()] + ["short"]
    batched = scorer.log_likelihoods("why does it rain", texts)
    alone = [scorer.log_likelihoods("why does it rain", [t])[0] for t in texts]
    assert batched == pytest.approx(alone, abs=1e-3)


@pytest.mark.slow
def test_query_likelihood_ranks_through_the_core_with_relevances_in_0_1(gemma: Any) -> None:
    scorer = from_spec("query-likelihood", model=gemma.model, tokenizer=gemma.tokenizer,
                       batch_size="2")  # fmt: skip
    texts = [t for _, t in TOPICS.values()]
    result = Reranker(scorer, top_n=2).rerank("Why do kittens purr?", texts)
    assert result.items[0].text == TOPICS["cat"][1]
    assert all(0.0 < item.score <= 1.0 for item in result.items)
    per_token = scorer.score_unit("Why do kittens purr?", texts[:1], timeout=None)[0]
    total = scorer.log_likelihoods("Why do kittens purr?", texts[:1])[0]
    count = len(gemma.tokenizer(" Why do kittens purr?", add_special_tokens=False)["input_ids"])
    assert per_token == pytest.approx(math.exp(total / count), rel=1e-3)  # geometric mean


def test_query_likelihood_names_what_is_wrong():
    with pytest.raises(ConfigurationError, match=r"exactly one \{passage\}"):
        QueryLikelihoodScorer("some/model", prompt="no placeholder")
    with pytest.raises(ConfigurationError, match="tokenizer= only with a loaded model"):
        QueryLikelihoodScorer("some/model", tokenizer=object())
    with pytest.raises(ConfigurationError, match="a loaded transformers causal LM"):
        QueryLikelihoodScorer(object(), tokenizer=object())
    with pytest.raises(
        ConfigurationError, match="QueryLikelihoodScorer got batch_size=0; pass an integer >= 1"
    ):
        QueryLikelihoodScorer("some/model", batch_size=0)
    with pytest.raises(ConfigurationError, match="names a model and model= gives one"):
        from_spec("query-likelihood:some/model", model=object())
