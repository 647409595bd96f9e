"""The LLM judge, pointwise and listwise, over scripted fake LLMs of both frameworks.

The fakes (``tests/llm_fakes.py``) are real LangChain / LlamaIndex classes that answer like a
perfect lexical judge, so the contract's word-based ranking checks apply. A listwise judge scores
the whole list as one unit (its windows depend on each other), so the budget leaves it all scored
or all unscored, never a part: it has no ``slow`` behaviour here, and the pointwise cases cover the
budget rule.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rerank_plugins import Scorer
from rerank_plugins.scorers.llm_judge import LLMJudgeScorer
from tests.contract.cases import ScorerCase
from tests.llm_fakes import Script, langchain_llm, llama_index_llm

_SCRIPTS: weakref.WeakKeyDictionary[Scorer, Script] = weakref.WeakKeyDictionary()


def _http_error(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "https://llm.example/v1/chat/completions")
    response = httpx.Response(status, request=request)
    return httpx.HTTPStatusError(f"HTTP {status}", request=request, response=response)


def _unusable_reply() -> Script:
    return Script(replies=["<think>hmm</think>They all look relevant."])


def _overloaded() -> Script:
    return Script(error=lambda: _http_error(503))


def _case(
    case_id: str,
    make_llm: Callable[[Script], Any],
    *,
    slow: bool,
    ranks_by_words: bool = True,
    transient: Callable[[], Script] = _unusable_reply,
    **options: Any,
) -> ScorerCase:
    def make(behaviour: str, request: pytest.FixtureRequest) -> Scorer | None:
        if behaviour == "slow" and not slow:
            return None
        extra: dict[str, Any] = {}
        script = {
            "ok": lambda: Script(),
            "slow": lambda: Script(delay=0.15),
            "transient": transient,
            "config": lambda: Script(error=lambda: _http_error(401)),
        }[behaviour]()
        if behaviour == "slow":
            extra = {"candidates_per_prompt": 1, "max_concurrency": 1}
        if behaviour == "transient":
            extra = {"max_retries": 1}
        scorer = LLMJudgeScorer(make_llm(script), **{**options, **extra})
        _SCRIPTS[scorer] = script
        return scorer

    def work(scorer: Scorer) -> int:
        return _SCRIPTS[scorer].calls

    return ScorerCase(case_id, make, work, ranks_by_words=ranks_by_words)


CASES = [
    _case("llm-pointwise-langchain", langchain_llm, slow=True, candidates_per_prompt=3),
    # Canned text replies carry no log-probabilities; an overloaded provider (503) is transient.
    _case(
        "llm-yes-probability-llama-index",
        llama_index_llm,
        slow=True,
        transient=_overloaded,
        score_by="yes_probability",
    ),
    _case("llm-listwise-llama-index", llama_index_llm, slow=False, mode="listwise"),
    # Several windows: one back-to-front pass sorts the head of the list, not its tail, so the
    # word-order checks (which look at the tail) do not apply; every other rule does.
    _case(
        "llm-listwise-langchain",
        langchain_llm,
        slow=False,
        ranks_by_words=False,
        mode="listwise",
        window_size=4,
        stride=2,
    ),
]
