"""The scorers the contract suite runs against.

Each backend contributes one module ``tests/contract/cases_<backend>.py`` that defines ``CASES``, a
list of :class:`ScorerCase`, and is named once in :data:`CASE_MODULES`. That is all a new scorer
needs to join every contract test, through every entry point.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from rerank_plugins import Scorer

CASE_MODULES = [
    "keyword",
    "cross_encoder",
    "cohere",
    "voyage",
    "tei",
    "llm",
    "query_likelihood",
    "replicas",
    "fallback",
]

BEHAVIOURS = ("ok", "slow", "transient", "config")

QUERY = "red apple pie"
TEXTS = [
    "green pear",
    "pie crust and apple",
    "red apple pie",
    "apple",
    "pie",
    "blue sky",
    "red",
    "a red apple",
]
"""The query and texts every contract test ranks (the LLM judge's tests too): the share of the
query's words in a text orders them, with ties, so an order that is off shows."""
"""What a case can be asked to build:

- ``ok``: a working scorer.
- ``slow``: every unit takes at least ~0.15 s (to run the budget out), otherwise working.
- ``transient``: every unit fails with a transient failure (timeout, 5xx, unparseable...).
- ``config``: the first use raises a configuration error (bad key, unknown model...).
"""


@dataclass(frozen=True)
class ScorerCase:
    """How to build one backend's scorer for each behaviour.

    Attributes:
        id: The test id.
        make: ``make(behaviour, request)`` returns a scorer, or ``None`` when the backend has no
            way to show that behaviour (the test is then skipped, with the reason).
        work: Units (model passes, requests, LLM calls) the scorer has done so far.
        ranks_by_words: Whether the ``ok`` scorer ranks a text sharing the query's words above one
            that shares none (true for the lexical test backends, not for an untrained model).
    """

    id: str
    make: Callable[[str, pytest.FixtureRequest], Scorer | None]
    work: Callable[[Scorer], int]
    ranks_by_words: bool = True


def all_cases() -> list[ScorerCase]:
    cases: list[ScorerCase] = []
    for name in CASE_MODULES:
        cases.extend(importlib.import_module(f"tests.contract.cases_{name}").CASES)
    return cases
