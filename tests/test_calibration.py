"""Calibrated scores: the map, its file, the core's use of it, and every scorer calibrating alike."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rerank_plugins import (
    Calibration,
    ConfigurationError,
    Normalization,
    Reranker,
    Scorer,
    fit_calibration,
)
from rerank_plugins._calibration import signal_of
from rerank_plugins.evaluation.beir import BeirDataset
from rerank_plugins.evaluation.calibration import (
    fit_and_check,
    score_pairs,
    threshold_table,
)
from rerank_plugins.evaluation.retrieval import Hit
from rerank_plugins.testing import KeywordScorer
from rerank_plugins.testing.server import RerankServer
from tests.llm_fakes import Script, langchain_llm


class TableScorer(Scorer):
    """Raw logits from a table: text -> logit."""

    def __init__(self, table: dict[str, float], **kwargs: Any) -> None:
        self.table = table
        super().__init__(**kwargs)

    @property
    def model(self) -> str:
        return "table"

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> list[float]:
        return [self.table[t] for t in texts]


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def platt(a: float, b: float, model: str = "table", backend: str = "scorer") -> Calibration:
    return Calibration("platt", {"a": a, "b": b}, backend, model)


# --- the map ----------------------------------------------------------------------------------


def test_platt_recovers_known_parameters_on_synthetic_data() -> None:
    rng = random.Random(7)
    xs = [rng.gauss(0.0, 3.0) for _ in range(20_000)]
    ys = [int(rng.random() < sigmoid(1.7 * x - 2.3)) for x in xs]
    cal = fit_calibration(xs, ys, backend="b", model="m")
    assert cal.parameters["a"] == pytest.approx(1.7, abs=0.1)
    assert cal.parameters["b"] == pytest.approx(-2.3, abs=0.1)
    assert (cal.pairs, cal.positives) == (20_000, sum(ys))


def test_isotonic_fit_is_a_non_decreasing_curve_that_fits_its_data() -> None:
    rng = random.Random(3)
    xs = [rng.uniform(-5, 5) for _ in range(5_000)]
    ys = [int(rng.random() < sigmoid(x)) for x in xs]
    cal = fit_calibration(xs, ys, backend="b", model="m", method="isotonic")
    curve = cal.apply(sorted(xs))
    assert all(a <= b for a, b in zip(curve, curve[1:], strict=False))
    assert cal.apply([-100.0, 100.0]) == [cal.parameters["y"][0], cal.parameters["y"][-1]]
    from rerank_plugins._calibration import expected_calibration_error

    assert expected_calibration_error(cal.apply(xs), ys) < 0.02


@pytest.mark.parametrize(
    ("xs", "ys", "message"),
    [
        ([0.0, 1.0], [1, 1], "needs relevant and irrelevant pairs, got 2 relevant of 2"),
        ([0.0], [1, 0], "needs one label per score, got 1 scores and 2 labels"),
        ([0.0, math.nan], [1, 0], "needs finite scores"),
        ([3.0, 2.0, 1.0, 0.0] * 5, [0, 0, 1, 1] * 5, "slope -"),
    ],
)
def test_an_impossible_fit_says_why(xs: list[float], ys: list[int], message: str) -> None:
    with pytest.raises(ConfigurationError, match=re_escape(message)):
        fit_calibration(xs, ys, backend="b", model="m")


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


# --- the file ---------------------------------------------------------------------------------


def test_a_calibration_file_round_trips(tmp_path: Path) -> None:
    for cal in (
        fit_calibration([-2, -1, 0, 1, 2, 3], [0, 0, 1, 0, 1, 1], backend="b", model="m"),
        fit_calibration(
            [-2, -1, 0, 1, 2, 3], [0, 0, 1, 0, 1, 1], backend="b", model="m", method="isotonic"
        ),
    ):
        cal = Calibration(**{**_fields(cal), "data": "d", "first_stage": "dense top-20"})
        path = cal.save(tmp_path / f"{cal.method}.json")
        back = Calibration.load(path)
        assert back == cal and back.source == str(path)
        assert back.apply([-1.5, 0.5, 2.5]) == cal.apply([-1.5, 0.5, 2.5])
        stored = json.loads(path.read_text())
        assert stored["format"] == "rerank-plugins-calibration" and stored["version"] == 1
        assert {"backend", "model", "data", "first_stage", "pairs", "metrics"} <= set(stored)


def _fields(cal: Calibration) -> dict[str, Any]:
    return {k: getattr(cal, k) for k in cal.__dataclass_fields__ if k != "source"}


def test_saving_never_overwrites_silently(tmp_path: Path) -> None:
    path = platt(1.0, 0.0).save(tmp_path / "c.json")
    with pytest.raises(FileExistsError):
        platt(2.0, 0.0).save(path)
    platt(2.0, 0.0).save(path, overwrite=True)
    assert Calibration.load(path).parameters["a"] == 2.0


def test_a_calibration_for_another_model_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = platt(1.0, 0.0, model="other-model").save(tmp_path / "other.json")
    with pytest.raises(ConfigurationError) as info:
        TableScorer({}, calibration=path)
    assert str(info.value) == (
        f"{path} was fit for scorer:other-model (sigmoid scores), not scorer:table (sigmoid "
        f"scores); fit one for this scorer with 'rerank-plugins calibrate DATASET --reranker "
        f"scorer:table', or pass calibration=None."
    )
    grades = Calibration("platt", {"a": 1, "b": 0}, "keyword", "word-overlap", "sigmoid")
    with pytest.raises(ConfigurationError, match="fit for keyword:word-overlap \\(sigmoid"):
        KeywordScorer(calibration=grades)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "Cannot read the calibration file {path}: No such file or directory; pass"),
        ("{not json", "The calibration file {path} is not valid JSON (Expecting"),
        ('{"format": "x"}', "{path} is not a version-1 rerank-plugins calibration"),
        (
            '{"format": "rerank-plugins-calibration", "version": 1, "method": "platt"}',
            "{path} is missing or has a bad field (KeyError: 'parameters')",
        ),
        (
            '{"format": "rerank-plugins-calibration", "version": 1, "method": "platt", '
            '"parameters": {"a": -1, "b": 0}, "backend": "scorer", "model": "table"}',
            "A Platt calibration needs a positive slope a (a map that keeps the order), got -1 in "
            "{path}.",
        ),
        (
            '{"format": "rerank-plugins-calibration", "version": 1, "method": "isotonic", '
            '"parameters": {"x": [1, 0], "y": [0, 1]}, "backend": "scorer", "model": "table"}',
            "An isotonic calibration needs lists x (increasing) and y (non-decreasing, in [0, 1]) "
            "of the same length in {path}.",
        ),
    ],
)
def test_a_corrupt_file_is_refused_in_one_line_naming_it(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "calibration.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigurationError) as info:
        TableScorer({}, calibration=str(path))
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(message.format(path=path)) or message.format(path=path) in text


def test_calibration_takes_a_path_an_object_or_none(tmp_path: Path) -> None:
    cal = platt(1.0, 0.0)
    path = cal.save(tmp_path / "c.json")
    assert TableScorer({}, calibration=path).calibration == cal
    assert TableScorer({}, calibration=str(path)).calibration == cal
    assert TableScorer({}, calibration=cal).calibration is cal
    assert TableScorer({}, calibration=None).calibration is None
    assert TableScorer({}, calibration="none").calibration is None  # the command line's None
    with pytest.raises(ConfigurationError, match="TableScorer calibration must be a path"):
        TableScorer({}, calibration=3)  # type: ignore[arg-type]


# --- the core ---------------------------------------------------------------------------------

logits = st.lists(
    st.one_of(st.floats(-60, 60), st.sampled_from([0.0, 1.0, 45.0, 50.0])), min_size=0, max_size=25
)


@st.composite
def calibrations(draw: st.DrawFn) -> Calibration:
    if draw(st.booleans()):
        return platt(draw(st.floats(0.01, 10)), draw(st.floats(-10, 10)))
    xs = sorted(set(draw(st.lists(st.floats(-60, 60), min_size=1, max_size=8))))
    ys = sorted(draw(st.lists(st.sampled_from([0.0, 0.2, 0.5, 1.0]), min_size=len(xs))))
    return Calibration("isotonic", {"x": xs, "y": ys[: len(xs)]}, "scorer", "table")


@settings(max_examples=200, deadline=None)
@given(logits, calibrations(), st.one_of(st.none(), st.floats(0, 1)))
def test_calibration_never_changes_the_order(
    raw: list[float], cal: Calibration, min_score: float | None
) -> None:
    texts = [f"t{i}" for i in range(len(raw))]
    table = dict(zip(texts, raw, strict=True))
    plain = Reranker(TableScorer(table)).rerank("q", texts)
    calibrated = Reranker(TableScorer(table, calibration=cal)).rerank("q", texts)
    assert calibrated.indices == plain.indices
    assert [it.raw_score for it in calibrated] == [it.raw_score for it in plain]
    assert [it.score for it in calibrated] == cal.apply([it.raw_score or 0.0 for it in plain])
    # min_score keeps exactly the candidates whose calibrated score clears it.
    kept = Reranker(TableScorer(table, calibration=cal), min_score=min_score).rerank("q", texts)
    floor = -1.0 if min_score is None else min_score
    assert kept.indices == [it.index for it in calibrated if (it.score or 0.0) >= floor]


def test_without_calibration_the_score_is_the_scorers_own_scale() -> None:
    result = Reranker(TableScorer({"a": 2.0, "b": -1.0})).rerank("q", ["a", "b"])
    assert [it.score for it in result] == [sigmoid(2.0), sigmoid(-1.0)]


def test_min_score_with_a_calibration_is_a_probability() -> None:
    table = {"a": 4.0, "b": 1.0, "c": -3.0}
    cal = platt(1.0, -2.0)  # P = sigmoid(raw - 2): a 0.88, b 0.27, c 0.007
    plain = Reranker(TableScorer(table), min_score=0.5).rerank("q", list(table))
    calibrated = Reranker(TableScorer(table, calibration=cal), min_score=0.5).rerank(
        "q", list(table)
    )
    assert plain.indices == [0, 1]  # sigmoid(1.0) = 0.73 clears 0.5 on the model's own scale
    assert calibrated.indices == [0]
    assert calibrated[0].score == pytest.approx(sigmoid(2.0))


def test_a_blend_orders_by_the_uncalibrated_signal() -> None:
    table = {"a": 3.0, "b": 2.0, "c": -1.0}
    scores = [0.1, 0.9, 0.5]
    plain = Reranker(TableScorer(table), blend=0.5).rerank(
        "q", list(table), retrieval_scores=scores
    )
    cal = Calibration("isotonic", {"x": [-1.0, 3.0], "y": [0.1, 0.2]}, "scorer", "table")
    calibrated = Reranker(TableScorer(table, calibration=cal), blend=0.5).rerank(
        "q", list(table), retrieval_scores=scores
    )
    assert calibrated.indices == plain.indices
    assert [it.score for it in calibrated] == [it.score for it in plain]


# --- every scorer calibrates the same way -----------------------------------------------------

WORDS = ["red", "apple", "pie", "blue", "sky", "rain", "cat", "purr", "milk", "stock", "fall"]
QUERIES = {
    "q1": "red apple pie",
    "q2": "blue sky rain",
    "q3": "cat purr milk",
    "q4": "stock market fall",
    "q5": "apple pie milk",
    "q6": "rain cat sky",
}


def judged_data() -> tuple[BeirDataset, dict[str, list[Hit]]]:
    """Texts with 0-3 of a query's words; relevant when they carry at least two of them, with a
    few judgements flipped (as real judgements are noisy)."""
    rng = random.Random(11)
    corpus: dict[str, tuple[str, str]] = {}
    qrels: dict[str, dict[str, int]] = {}
    hits: dict[str, list[Hit]] = {}
    for qid, query in QUERIES.items():
        words = query.split()
        hits[qid] = []
        for j in range(12):
            share = rng.sample(words, j % 4)
            text = " ".join(share + rng.sample(WORDS, 2))
            doc = f"{qid}-{j}"
            corpus[doc] = ("", text)
            relevant = (len(share) >= 2) != (rng.random() < 0.1)
            if relevant:
                qrels.setdefault(qid, {})[doc] = 1
            hits[qid].append(Hit(doc, 1.0 - j / 12))
    return BeirDataset(corpus=corpus, queries=dict(QUERIES), qrels=qrels), hits


def check_calibrates_alike(make: Callable[[Any], Scorer], tmp_path: Path) -> None:
    """Fit a calibration for the scorer on half the queries through the same code as the
    ``calibrate`` command, save it, give its path to a new scorer, and check the core reports
    the calibrated probabilities of the raw scores, in the uncalibrated order."""
    dataset, hits = judged_data()
    plain = make(None)
    fit_ids, check_ids = ["q1", "q2", "q3", "q4"], ["q5", "q6"]
    fit_pairs = score_pairs(dataset, {q: hits[q] for q in fit_ids}, plain)
    check_pairs = score_pairs(dataset, {q: hits[q] for q in check_ids}, plain)
    run = fit_and_check(fit_pairs, check_pairs, plain, data="synthetic", checked_on="q5, q6")
    cal = run.calibration
    assert (cal.backend, cal.model) == (plain.backend, plain.model)
    assert cal.normalization == Normalization(plain.normalization).value
    assert cal.metrics["ece_after"] == pytest.approx(run.after["ece"], abs=1e-6)
    path = cal.save(tmp_path / f"{plain.backend}.json")
    calibrated = make(str(path))
    assert calibrated.calibration == cal
    for qid in QUERIES:
        texts = [dataset.document_text(h.doc_id) for h in hits[qid]]
        before = Reranker(plain).rerank(QUERIES[qid], texts)
        after = Reranker(calibrated).rerank(QUERIES[qid], texts)
        assert after.indices == before.indices
        raw = [it.raw_score or 0.0 for it in before]
        assert [it.raw_score for it in after] == raw
        expected = cal.calibrate(cal.normalization, raw)
        assert [it.score for it in after] == pytest.approx(expected)
        kept = Reranker(calibrated, min_score=0.5).rerank(QUERIES[qid], texts)
        assert kept.indices == [it.index for it in after if (it.score or 0.0) >= 0.5]


class OverlapScorer(Scorer):
    """A user's own scorer: one method, no constructor of its own."""

    normalization = Normalization.IDENTITY

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> list[float]:
        wanted = set(query.split())
        return [len(wanted & set(t.split())) / len(wanted) for t in texts]


def test_a_custom_scorer_calibrates(tmp_path: Path) -> None:
    check_calibrates_alike(lambda cal: OverlapScorer(calibration=cal), tmp_path)


def test_the_keyword_scorer_calibrates(tmp_path: Path) -> None:
    check_calibrates_alike(lambda cal: KeywordScorer(calibration=cal), tmp_path)


@pytest.mark.parametrize(
    ("backend", "options"),
    [
        ("cohere", {}),
        ("voyage", {}),
        ("tei", {}),  # raw logits: 8 * relevance - 4
        ("tei", {"raw_scores": False}),
    ],
)
def test_hosted_scorers_calibrate(tmp_path: Path, backend: str, options: dict[str, Any]) -> None:
    server = RerankServer.shared()
    check_calibrates_alike(
        lambda cal: server.scorer_for(backend, calibration=cal, **options), tmp_path
    )


@pytest.mark.parametrize(
    "options",
    [
        {"score_by": "grade"},
        {"score_by": "yes_probability"},
        {"mode": "listwise", "window_size": 6, "stride": 3},
    ],
    ids=["grades", "yes-probabilities", "listwise"],
)
def test_the_llm_judge_calibrates(tmp_path: Path, options: dict[str, Any]) -> None:
    from rerank_plugins import LLMJudgeScorer

    check_calibrates_alike(
        lambda cal: LLMJudgeScorer(langchain_llm(Script()), calibration=cal, **options), tmp_path
    )


def test_a_local_cross_encoder_calibrates(cross_encoder_path: Path, tmp_path: Path) -> None:
    from rerank_plugins import CrossEncoderScorer

    model = str(cross_encoder_path)
    cal = Calibration("platt", {"a": 0.7, "b": 0.3}, "cross-encoder", model)
    texts = ["a red apple", "blue sky", "apple pie", "rain"]
    plain = Reranker(CrossEncoderScorer(model, device="cpu")).rerank("red apple", texts)
    scorer = CrossEncoderScorer(model, device="cpu", calibration=cal.save(tmp_path / "c.json"))
    calibrated = Reranker(scorer).rerank("red apple", texts)
    assert calibrated.indices == plain.indices
    assert [it.score for it in calibrated] == pytest.approx(
        [sigmoid(0.7 * (it.raw_score or 0.0) + 0.3) for it in plain]
    )


def test_a_reranker_artifact_carries_its_calibration(tmp_path: Path) -> None:
    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.models import bundled_path

    folder = tmp_path / "artifact"
    folder.mkdir()
    manifest = json.loads((bundled_path("scifact-minilm") / "reranker.json").read_text())
    manifest.pop("calibration", None)
    (folder / "reranker.json").write_text(json.dumps(manifest))
    assert CrossEncoderScorer(str(folder)).calibration is None
    platt(1.5, -2.0, model="bundled:scifact-minilm", backend="cross-encoder").save(
        folder / "calibration.json"
    )
    (folder / "reranker.json").write_text(
        json.dumps({**manifest, "calibration": "calibration.json"})
    )
    own = CrossEncoderScorer(str(folder)).calibration
    assert own is not None and own.model == str(folder)  # its own, whatever it is loaded as
    assert own.parameters == {"a": 1.5, "b": -2.0}
    assert CrossEncoderScorer(str(folder), calibration=None).calibration is None
    (folder / "reranker.json").write_text(json.dumps({**manifest, "calibration": "../x.json"}))
    with pytest.raises(ConfigurationError, match="'calibration' must name a file inside"):
        CrossEncoderScorer(str(folder))
    (folder / "reranker.json").write_text(json.dumps({**manifest, "calibration": "gone.json"}))
    with pytest.raises(ConfigurationError, match=re_escape(f"{folder / 'gone.json'}: No such")):
        CrossEncoderScorer(str(folder))


def test_the_threshold_table_counts_what_min_score_keeps() -> None:
    rows = threshold_table([0.95, 0.8, 0.55, 0.5, 0.2, 0.05], [1, 1, 0, 1, 0, 0])
    by = {r.threshold: r for r in rows}
    assert (by[0.5].kept, by[0.5].precision, by[0.5].recall) == (4, 0.75, 1.0)
    assert (by[0.9].kept, by[0.9].precision) == (1, 1.0)
    assert by[0.9].recall == pytest.approx(1 / 3)


def test_signal_of_is_what_a_calibration_maps() -> None:
    assert signal_of("sigmoid", [-3.0, 9.0]) == [-3.0, 9.0]
    assert signal_of("identity", [-0.5, 0.4, 2.0]) == [0.0, 0.4, 1.0]
    assert signal_of("rank", [2, 0, 1, 3]) == [0.5, 1.0, 0.75, 0.25]


def test_the_bundled_reranker_ships_calibrated_never_on_dev() -> None:
    from rerank_plugins import CrossEncoderScorer
    from rerank_plugins.models import bundled_path

    cal = CrossEncoderScorer("bundled:scifact-minilm").calibration
    assert cal is not None
    assert (cal.backend, cal.model, cal.normalization) == (
        "cross-encoder",
        "bundled:scifact-minilm",
        "sigmoid",
    )
    assert cal.source == str(bundled_path("scifact-minilm") / "calibration.json")
    fit_subset = cal.data.split("subset ")[1].split(" ")[0]
    assert fit_subset in ("fit", "validation", "train")  # training claims, never dev
    assert cal.metrics["ece_after"] < cal.metrics["ece_before"]
    assert CrossEncoderScorer("bundled:scifact-minilm", calibration=None).calibration is None
