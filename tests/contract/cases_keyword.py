"""The deterministic test scorer: every behaviour, no model, no network."""

from __future__ import annotations

import pytest

from rerank_plugins import Scorer
from rerank_plugins.testing import KeywordScorer
from tests.contract.cases import ScorerCase


def _make(behaviour: str, request: pytest.FixtureRequest) -> Scorer:
    return {
        "ok": lambda: KeywordScorer(),
        "slow": lambda: KeywordScorer(unit_size=1, delay_s=0.15),
        "transient": lambda: KeywordScorer(fail_always=True, max_retries=1),
        "config": lambda: KeywordScorer(config_error=True),
    }[behaviour]()


def _work(scorer: Scorer) -> int:
    assert isinstance(scorer, KeywordScorer)
    return scorer.calls


CASES = [ScorerCase("keyword", _make, _work)]
