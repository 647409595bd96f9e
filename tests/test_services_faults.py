"""The fault matrix of the hosted scorers: every fault, every protocol, every entry point.

Each cell runs the real SDK (``cohere``, ``voyageai``) or ``httpx`` (TEI) over real HTTP against
the local :class:`RerankServer`, which misbehaves on request for the API key the scorer holds.
Backends x entry points (core, LlamaIndex, LangChain; sync and async) x faults, one test body
per expectation:

* a transient fault that persists: retried within the budget, then every candidate follows
  unscored in retrieval order, the reason is in the stats and a warning is logged;
* the same fault once: retried, and the result is the clean one;
* the same fault with ``on_error="raise"``: a :class:`TransientError` with the reason;
* a response slower than the budget: the call returns within the budget, nothing lost;
* 401 and 400: raised at once (one request, no retry), with a message that names the fix.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass

import pytest

from rerank_plugins import AuthenticationError, RequestRejectedError, Scorer, TransientError
from tests.contract.entries import ENTRIES, Entry, Outcome

QUERY = "red apple pie"
TEXTS = ["green pear", "pie crust and apple", "red apple pie", "apple", "blue sky", "a red apple"]
CLEAN_ORDER = [2, 5, 1, 3, 0, 4]  # lexical relevance on the server; ties keep retrieval order


@dataclass(frozen=True)
class Fault:
    """One transient row of the matrix."""

    name: str  # the server's fault
    reason: str  # the reason the stats must give
    retry_after: float = 1.0


TRANSIENT = [
    Fault("http_429", "http_429", retry_after=0.2),
    Fault("http_429_no_retry_after", "http_429"),
    Fault("http_500", "http_500"),
    Fault("http_503", "http_503"),
    Fault("drop", "connection"),
    Fault("drop_mid_body", "connection"),
    Fault("malformed_json", "malformed_response"),
    Fault("index_out_of_range", "malformed_response"),
    Fault("index_missing", "malformed_response"),
    Fault("short_results", "malformed_response"),
]

ENV_HINT = {"cohere": "CO_API_KEY", "voyage": "VOYAGE_API_KEY", "tei": "TEI_API_KEY"}


@pytest.fixture(params=ENTRIES, ids=lambda e: e.id)
def entry(request: pytest.FixtureRequest) -> Entry:
    return request.param  # type: ignore[no-any-return]


def run(entry: Entry, scorer: Scorer, **options: object) -> tuple[Outcome, float]:
    """One call through ``entry``; the time is the call's own (imports and building excluded)."""
    built = entry.build(scorer, **options)
    scorer.prepare()
    started = time.monotonic()
    out = entry.run(built, QUERY, list(TEXTS))
    return out, time.monotonic() - started


@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f.name)
def test_persistent_fault_is_retried_then_falls_back(server, backend, entry, fault, caplog):
    key = server.key_for(fault.name, retry_after=fault.retry_after)
    scorer = server.scorer_for(backend, key=key, max_retries=2 if entry.id == "core-sync" else 1)
    with caplog.at_level(logging.WARNING, logger="rerank_plugins"):
        out, elapsed = run(entry, scorer, budget_ms=3000)
    assert out.indices == list(range(len(TEXTS))), "nothing lost, retrieval order kept"
    assert all(item.score is None for item in out.items)
    assert out.stats["fallback_reason"].startswith(f"{fault.reason}: ")
    assert out.stats["retries"] == scorer.max_retries and out.stats["scored"] == 0
    assert len(server.served(key)) == 1 + scorer.max_retries, (
        "the core's retries, none of the SDK's"
    )
    assert any("left unscored" in r.getMessage() for r in caplog.records)
    assert elapsed < 3.0, "the budget is held"
    if fault.name == "http_429":
        assert elapsed >= scorer.max_retries * fault.retry_after, "Retry-After is honoured"


@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f.name)
def test_fault_once_is_retried_and_the_result_is_clean(server, backend, entry, fault):
    key = server.key_for(fault.name, times=1, retry_after=0.05)
    scorer = server.scorer_for(backend, key=key)
    out, _ = run(entry, scorer, budget_ms=3000)
    assert out.indices == CLEAN_ORDER
    assert all(item.score is not None for item in out.items)
    assert out.stats["retries"] == 1 and out.stats["fallback_reason"] is None
    assert len(server.served(key)) == 2


@pytest.mark.parametrize("fault", TRANSIENT, ids=lambda f: f.name)
def test_fault_raises_when_asked(server, backend, entry, fault):
    key = server.key_for(fault.name, retry_after=0.05)
    scorer = server.scorer_for(backend, key=key, max_retries=1)
    with pytest.raises(TransientError) as info:
        run(entry, scorer, budget_ms=3000, on_error="raise")
    assert info.value.reason == fault.reason
    assert len(server.served(key)) == 2, "retried once, then raised"


def test_retry_after_beyond_the_budget_is_not_waited_for(server, backend, entry):
    key = server.key_for("http_429", retry_after=30)
    scorer = server.scorer_for(backend, key=key)
    out, elapsed = run(entry, scorer, budget_ms=1000)
    assert elapsed < 1.0, "a Retry-After past the budget is not waited for"
    assert out.stats["fallback_reason"].startswith("http_429: ")
    assert "Retry-After 30s" in out.stats["fallback_reason"]
    assert out.stats["retries"] == 0 and len(server.served(key)) == 1


def test_response_slower_than_the_budget(server, backend, entry):
    key = server.key_for("slow", delay_s=5.0)
    scorer = server.scorer_for(backend, key=key)
    out, elapsed = run(entry, scorer, budget_ms=400, on_error="raise")
    assert elapsed < 0.4 + 0.3, f"took {elapsed:.3f}s for a 400 ms budget"
    assert out.indices == list(range(len(TEXTS))), "nothing lost when the budget runs out"
    assert all(item.score is None for item in out.items)
    assert out.stats["budget_exhausted"] is True


def test_a_body_sent_slowly_cannot_outrun_the_budget(server, backend, entry):
    # Each read arrives quickly (a byte every 50 ms), so a per-read timeout never fires: only a
    # deadline on the whole request keeps the call inside its budget.
    key = server.key_for("slow_body", delay_s=0.05)
    scorer = server.scorer_for(backend, key=key)
    out, elapsed = run(entry, scorer, budget_ms=800)
    assert elapsed < 0.8 * 1.1 + 0.15, f"took {elapsed:.3f}s for an 800 ms budget"
    assert out.indices == list(range(len(TEXTS))), "nothing lost when the budget runs out"
    assert all(item.score is None for item in out.items)


@pytest.mark.parametrize("mode", ["fallback", "raise"])
def test_response_slower_than_the_scorer_timeout_is_a_timeout(server, backend, mode):
    key = server.key_for("slow", delay_s=5.0)
    scorer = server.scorer_for(backend, key=key, timeout=0.2, max_retries=1)
    entry = ENTRIES[0]
    if mode == "raise":
        with pytest.raises(TransientError) as info:
            run(entry, scorer, on_error="raise")
        assert info.value.reason == "timeout"
        return
    out, elapsed = run(entry, scorer)
    assert out.stats["fallback_reason"].startswith("timeout: ")
    assert elapsed < 1.5


def test_bad_key_raises_at_once_naming_the_fix(server, backend, entry):
    key = f"sk-wrong-{uuid.uuid4().hex}"
    scorer = server.scorer_for(backend, key=key)
    with pytest.raises(AuthenticationError) as info:
        run(entry, scorer, budget_ms=3000, on_error="fallback")
    message = str(info.value)
    assert "HTTP 401" in message and ENV_HINT[backend] in message and "api_key=" in message
    assert key not in message
    assert len(server.served(key)) == 1, "never retried"


def test_bad_request_raises_at_once_naming_the_fix(server, backend, entry):
    key = server.key_for("http_400")
    scorer = server.scorer_for(backend, key=key)
    with pytest.raises(RequestRejectedError) as info:
        run(entry, scorer, budget_ms=3000, on_error="fallback")
    assert isinstance(info.value, ValueError)
    assert "HTTP 400" in str(info.value) and "check the model name" in str(info.value)
    assert len(server.served(key)) == 1, "never retried"
