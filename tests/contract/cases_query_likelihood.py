"""The query-likelihood scorer over a real LLM: Gemma 3 270M from PyPI, offline, loaded once.

A local model has no transient failures and no sleep knob, so only ``ok`` and ``config`` apply.
Its work is counted as forward passes since the scorer was made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rerank_plugins import Scorer
from rerank_plugins.scorers.query_likelihood import QueryLikelihoodScorer
from tests.contract.cases import ScorerCase


def _make(behaviour: str, request: pytest.FixtureRequest) -> Scorer | None:
    if behaviour == "config":
        missing = Path(request.getfixturevalue("tmp_path")) / "no-model"
        return QueryLikelihoodScorer(str(missing))
    if behaviour != "ok":
        return None
    from rerank_plugins.models.gemma import load_gemma

    gemma = load_gemma()  # once per process
    return QueryLikelihoodScorer(gemma.model, tokenizer=gemma.tokenizer, batch_size=4)


def _work(scorer: Any) -> int:
    assert isinstance(scorer, QueryLikelihoodScorer)
    return scorer.forward_passes


CASES = [ScorerCase("query-likelihood", _make, _work, ranks_by_words=False)]
