"""Long passages scored whole: ``CrossEncoderScorer(long_passages="windows")``.

A passage that fits scores exactly as under truncation; a longer one is read as overlapping
windows, each with the whole query, and keeps its best window's score, on every runtime. The
bundled reranker shows why: a passage whose relevant sentence sits past the cut is found.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rerank_plugins import ConfigurationError, CrossEncoderScorer, Reranker
from rerank_plugins.scorers.local import PairEncoder
from tests._local import seeded_scorer

QUERY = "does aspirin reduce the risk of heart attack"
SHORT = ["Aspirin lowers the risk of myocardial infarction.", "The Eiffel tower is in Paris.", ""]
FILLER = (
    "The committee met on Tuesday to discuss the budget of the regional library, the opening "
    "hours of the swimming pool and the repainting of the town hall. "
)
RELEVANT = (
    "In this randomised trial, daily low-dose aspirin reduced the risk of a first heart attack "
    "by a third compared with placebo."
)


def make(runtime: str, encoder: object, export_dir: Path, **kw: object) -> CrossEncoderScorer:
    return seeded_scorer(runtime, encoder, export_dir, max_length=64, **kw)


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-windows")


@pytest.mark.parametrize("runtime", ["torch", "onnx", "onnx-int8", "openvino"])
def test_short_passages_score_exactly_as_truncation(runtime, loaded_cross_encoder, export_dir):
    truncating = make(
        runtime, loaded_cross_encoder, export_dir, long_passages="truncate", score_cache_size=0
    )
    windowed = make(
        runtime, loaded_cross_encoder, export_dir, long_passages="windows", score_cache_size=0
    )
    a = truncating.score_unit(QUERY, SHORT, timeout=None).scores
    b = windowed.score_unit(QUERY, SHORT, timeout=None).scores
    assert a == b


@pytest.mark.parametrize("runtime", ["torch", "onnx", "onnx-int8", "openvino"])
def test_a_long_passage_keeps_its_best_window(runtime, loaded_cross_encoder, export_dir):
    scorer = make(
        runtime, loaded_cross_encoder, export_dir, long_passages="windows", max_windows=8,
        window_overlap=8, score_cache_size=0,
    )  # fmt: skip
    passage = FILLER * 3 + RELEVANT
    engine = scorer.engine
    pairs, owners = engine.pairs.encode_windows(QUERY, [passage], max_windows=8, overlap=8)
    assert len(pairs) > 1 and set(owners) == {0}
    assert all(len(p) <= 64 for p in pairs)
    each = [engine.batcher.run([p], timeout=None)[0] for p in pairs]
    (got,) = scorer.score_unit(QUERY, [passage], timeout=None).scores
    assert got == pytest.approx(max(row[0] for row in each), abs=1e-6)


def test_windows_overlap_and_cover_the_passage(loaded_cross_encoder):
    pairs = PairEncoder(loaded_cross_encoder.tokenizer, 32)  # type: ignore[attr-defined]
    with pytest.raises(
        ConfigurationError, match=r"encode_windows got overlap=-1; pass an integer >= 0"
    ):
        pairs.encode_windows(QUERY, [RELEVANT], max_windows=2, overlap=-1)
    passage = " ".join(f"w{i}" for i in range(200))
    out, owners = pairs.encode_windows("q", [passage, "short"], max_windows=50, overlap=4)
    text_ids = pairs._tok.encode(passage, add_special_tokens=False).ids
    windows = [p for p, o in zip(out, owners, strict=True) if o == 0]
    bodies = [p.input_ids[p.token_type_ids.index(1) : -1] for p in windows]
    assert bodies[0] == text_ids[: len(bodies[0])]
    assert bodies[1][:4] == bodies[0][-4:]  # consecutive windows share the overlap
    assert bodies[-1][-1] == text_ids[-1]  # nothing of the passage is lost
    assert owners[-1] == 1 and out[-1] == pairs.encode("q", ["short"])[0]
    few, _ = pairs.encode_windows("q", [passage], max_windows=3, overlap=4)
    assert len(few) == 3


def test_the_budget_counts_windows(loaded_cross_encoder, export_dir):
    scorer = make("torch", loaded_cross_encoder, export_dir, long_passages="windows",
                  batch_size=4, max_windows=4)  # fmt: skip
    units = scorer.plan_units([FILLER * 8, "a", "b", "c", "d"])
    assert units[0] == [0] and [1, 2, 3, 4] in units


def test_bad_window_options_name_the_fix():
    with pytest.raises(ConfigurationError, match="long_passages must be 'truncate' or 'windows'"):
        CrossEncoderScorer("x", long_passages="chunk")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="got max_windows=0; pass an integer >= 1"):
        CrossEncoderScorer("x", long_passages="windows", max_windows=0)


def test_bundled_reranker_finds_the_sentence_past_the_cut():
    """Truncation at 128 tokens never reads the relevant sentence; windows do, and rank it first."""
    passages = [FILLER * 4 + RELEVANT, FILLER * 5, "Paris is the capital of France."]
    truncating = CrossEncoderScorer("bundled:scifact-minilm", max_length=128,
                                    long_passages="truncate")  # fmt: skip
    windowed = CrossEncoderScorer("bundled:scifact-minilm", max_length=128,
                                  long_passages="windows")  # fmt: skip
    cut = truncating.score_unit(QUERY, passages, timeout=None).scores
    whole = windowed.score_unit(QUERY, passages, timeout=None).scores
    assert whole[1:] == pytest.approx(cut[1:], abs=1e-5) or whole[2] == pytest.approx(cut[2])
    assert whole[0] is not None and cut[0] is not None and whole[0] > cut[0] + 1.0
    result = Reranker(windowed).rerank(QUERY, passages)
    assert result.items[0].index == 0


def test_an_artifact_can_recommend_its_setting_and_an_explicit_one_wins(tmp_path):
    import json
    import shutil

    from rerank_plugins.models import bundled_path

    folder = tmp_path / "artifact"
    shutil.copytree(bundled_path("bundled:scifact-minilm"), folder)
    manifest = json.loads((folder / "reranker.json").read_text())
    manifest["inference"] = {"long_passages": "windows"}
    (folder / "reranker.json").write_text(json.dumps(manifest))
    assert CrossEncoderScorer(str(folder)).long_passages == "windows"
    assert CrossEncoderScorer(str(folder), long_passages="truncate").long_passages == "truncate"
    manifest["inference"] = {}
    (folder / "reranker.json").write_text(json.dumps(manifest))
    assert CrossEncoderScorer(str(folder)).long_passages == "truncate"
