"""Training lists from documents alone (``rerank_plugins.training.synthetic``), and
``rerank-plugins train --corpus`` end to end on a tiny corpus made here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from rerank_plugins import ConfigurationError, CrossEncoderScorer, Reranker
from rerank_plugins.training import cli
from rerank_plugins.training.synthetic import (
    SyntheticQuery,
    cloze_queries,
    corpus_examples,
    llm_writer,
    read_queries,
    title_queries,
    write_queries,
    written_queries,
)
from tests.tiny_corpus import TOPICS, write_corpus


def test_title_queries_ask_for_the_text_with_the_title_removed():
    made = title_queries(TOPICS)
    assert {q.doc_id for q in made} == set(TOPICS)
    for q in made:
        title, text = TOPICS[q.doc_id]
        assert q.query == title and q.positive == text and title not in q.positive
    assert title_queries({"x": ("Too short", "some text here")}) == []  # under 4 words


def test_cloze_queries_take_one_sentence_out_of_their_document():
    made = cloze_queries(TOPICS, seed=3)
    assert {q.doc_id for q in made} == set(TOPICS)
    for q in made:
        title, text = TOPICS[q.doc_id]
        assert q.query in text and q.query not in q.positive
        assert q.positive.startswith(title) and 6 <= len(q.query.split()) <= 40
    assert cloze_queries(TOPICS, seed=3) == made  # seeded
    assert cloze_queries({"x": ("T", "Only one sentence here, nothing else to keep.")}) == []


def test_the_round_trip_keeps_queries_whose_document_the_first_stage_finds_again():
    queries = [
        SyntheticQuery("cat", "q1", "pos cat", "title"),
        SyntheticQuery("bones", "q2", "pos bones", "cloze"),
    ]
    ranked = {0: ["paris", "cat", "rain"], 1: ["paris", "rain", "stocks"]}  # q2 lost its document
    lists, report = corpus_examples(
        TOPICS, queries, ranked, roundtrip_k=2, hard_negatives=2, random_negatives=1, hard_pool=3
    )
    assert [ex.query for ex in lists] == ["q1"]
    assert report["made"] == 2 and report["kept"] == 1
    assert report["by_kind"] == {"cloze": {"made": 1, "kept": 0}, "title": {"made": 1, "kept": 1}}
    kept_all, report = corpus_examples(TOPICS, queries, ranked, roundtrip_k=None)
    assert report["kept"] == 2 and len(kept_all) == 2


def test_negatives_are_never_the_source_and_look_like_the_positive():
    queries = title_queries(TOPICS)
    ranked = {i: [q.doc_id, *[d for d in TOPICS if d != q.doc_id]] for i, q in enumerate(queries)}
    for seed in range(5):
        lists, _ = corpus_examples(
            TOPICS, queries, ranked, hard_negatives=2, random_negatives=2, seed=seed
        )
        for q, ex in zip(queries, lists, strict=True):
            assert ex.labels[0] == 1.0 and set(ex.labels[1:]) == {0.0}
            assert ex.texts[0] == TOPICS[q.doc_id][1]
            negatives = ex.texts[1:]
            assert TOPICS[q.doc_id][1] not in negatives and len(set(negatives)) == len(negatives)
            # title queries: every text without its title, so the form gives nothing away
            titles = {title for title, _ in TOPICS.values()}
            assert not any(t.startswith(title) for t in negatives for title in titles)
    with pytest.raises(
        ConfigurationError,
        match=r"corpus_examples got roundtrip_k=0; pass an integer >= 1 or None\.",
    ):
        corpus_examples(TOPICS, queries, ranked, roundtrip_k=0)


def test_written_queries_come_from_any_callable_llm_and_bad_replies_are_dropped():
    replies = iter(["Do cats purr when happy?", "", "x" * 3, "\"How tall is the Eiffel tower?\"",
                    "Markets dropped four percent at the open after the rate decision."])  # fmt: skip
    prompts: list[str] = []

    def llm(prompt: str) -> str:
        prompts.append(prompt)
        return next(replies)

    made = written_queries(dict(list(TOPICS.items())), llm_writer(llm))
    assert [q.query for q in made] == ["Do cats purr when happy?", "How tall is the Eiffel tower?"]
    assert "Cats purr at about 25 hertz" in prompts[0] and all(q.kind == "written" for q in made)


def test_written_queries_in_batches_keep_the_order_and_check_the_writer():
    batches: list[list[str]] = []

    def write_many(prompts: list[str]) -> list[str]:
        batches.append(prompts)
        return [f"claim number {len(batches)}-{i} here" for i in range(len(prompts))]

    made = written_queries(TOPICS, write_many=write_many, batch_size=2, prompt="P: {passage}\nQ:",
                           max_words=3)  # fmt: skip
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches[0][0] == "P: Domestic cats purr\nQ:"  # the first 3 words, in the prompt
    assert [q.query for q in made][:3] == ["claim number 1-0 here", "claim number 1-1 here",
                                            "claim number 2-0 here"]  # fmt: skip
    assert [q.doc_id for q in made] == list(TOPICS)
    assert made[0].positive.startswith("Domestic cats purr when content Cats purr")  # whole doc
    with pytest.raises(ConfigurationError, match="one reply per prompt"):
        written_queries(TOPICS, write_many=lambda prompts: ["only one claim here"])
    with pytest.raises(ConfigurationError, match="not both and not neither"):
        written_queries(TOPICS)
    with pytest.raises(ConfigurationError, match="not both and not neither"):
        written_queries(TOPICS, str, write_many=list)
    with pytest.raises(
        ConfigurationError, match=r"written_queries got batch_size=0; pass an integer >= 1\."
    ):
        written_queries(TOPICS, write_many=list, batch_size=0)
    with pytest.raises(ConfigurationError, match=r"must contain \{passage\}"):
        written_queries(TOPICS, str, prompt="no slot")


def test_written_queries_round_trip_through_a_file(tmp_path):
    made = [SyntheticQuery("cat", "Cats purr when happy", "ignored", "written"),
            SyntheticQuery("rain", "Rain starts as ice", "ignored", "written")]  # fmt: skip
    path = tmp_path / "q.jsonl"
    write_queries(made, path)
    back = read_queries(path, TOPICS)
    assert [(q.doc_id, q.query, q.kind) for q in back] == [
        ("cat", "Cats purr when happy", "written"),
        ("rain", "Rain starts as ice", "written"),
    ]
    assert back[0].positive == " ".join(TOPICS["cat"])  # the whole document
    (tmp_path / "bad.jsonl").write_text('{"doc_id": "cat", "query": "ok"}\n[1, 2]\n')
    with pytest.raises(ConfigurationError, match=r"bad.jsonl, line 2: expected a JSON object"):
        read_queries(tmp_path / "bad.jsonl", TOPICS)
    (tmp_path / "other.jsonl").write_text('{"doc_id": "moon", "query": "The moon is near"}\n')
    with pytest.raises(ConfigurationError, match="doc_id 'moon' is not in the corpus"):
        read_queries(tmp_path / "other.jsonl", TOPICS)


def test_train_from_documents_alone_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RERANK_PLUGINS_CACHE", str(tmp_path / "cache"))
    write_corpus(tmp_path / "docs")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        ["--corpus", str(tmp_path / "docs"), "--output", str(tmp_path / "out"), "--method",
         "top_layers", "--top-layers", "1", "--max-length", "48", "--batch-size", "4",
         "--candidates", "4", "--roundtrip-k", "3", "--hard-negatives", "2",
         "--random-negatives", "1", "--no-progress"]
    )  # fmt: skip
    assert cli.run(args) == 0
    err = capsys.readouterr().err
    assert "10 queries made from 5 documents; 1 held out for early stopping" in err
    assert "steps of 4 lists at 48 tokens: about" in err  # the cost, said before training
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "development" not in summary  # no judgements anywhere: nothing to report on
    manifest = json.loads((tmp_path / "out" / "best" / "reranker.json").read_text())
    made = manifest["recipe"]["corpus"]
    assert made["documents"] == 5 and made["kinds"] == ["title", "cloze"]
    assert made["kept"] <= made["made"] - made["held_out"] and made["made"] == 10
    scorer = CrossEncoderScorer(str(tmp_path / "out" / "best"), device="cpu", runtime="torch")
    result = Reranker(scorer).rerank("Do cats purr?", [t for _, t in TOPICS.values()])
    assert len(result.items) == 5 and all(item.score is not None for item in result.items)


def test_train_from_written_queries_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RERANK_PLUGINS_CACHE", str(tmp_path / "cache"))
    write_corpus(tmp_path / "docs")
    queries = tmp_path / "written.jsonl"
    write_queries([SyntheticQuery(d, f"What is said about {title.lower()}?", "", "written")
                   for d, (title, _) in list(TOPICS.items())[:4]], queries)  # fmt: skip
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    common = ["--corpus", str(tmp_path / "docs"), "--output", str(tmp_path / "out"),
              "--method", "top_layers", "--top-layers", "1", "--max-length", "48",
              "--batch-size", "4", "--candidates", "4", "--roundtrip-k", "3",
              "--hard-negatives", "2", "--random-negatives", "1", "--no-progress"]  # fmt: skip
    args = parser.parse_args([*common, "--synthetic", "written", "--queries-file", str(queries)])
    assert cli.run(args) == 0
    assert "4 queries made from 4 documents" in capsys.readouterr().err  # those the file covers
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    manifest = json.loads((Path(summary["artifact"]) / "reranker.json").read_text())
    assert manifest["recipe"]["corpus"]["kinds"] == ["written"]
    assert manifest["recipe"]["corpus"]["documents"] == 4
    # Into a new folder: the finished run in out/ would be refused first (never overwritten).
    fresh = [*common[:2], "--output", str(tmp_path / "o1"), *common[4:]]
    assert cli.run(parser.parse_args([*fresh, "--synthetic", "written"])) == 2
    assert "--synthetic written and --queries-file go together" in capsys.readouterr().err
    no_corpus = ["--output", str(tmp_path / "o2"), "--beir", str(tmp_path / "docs"),
                 "--queries-file", str(queries)]  # fmt: skip
    assert cli.run(parser.parse_args(no_corpus)) == 2
    assert "--queries-file holds queries written for the documents of --corpus" in (
        capsys.readouterr().err
    )


def test_train_without_any_data_names_the_three_sources(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    assert cli.run(parser.parse_args(["--output", str(tmp_path / "o")])) == 2
    err = capsys.readouterr().err
    assert "--beir DIR" in err and "--preferences FILE" in err and "--corpus DIR" in err
