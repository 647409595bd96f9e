"""The shared boundary of the hosted scorers (``rerank_plugins.scorers.hosted``) and their
options: Retry-After, status translation, mapping by index, timeouts, validation, lazy imports,
normalisation, and async clients per event loop."""

from __future__ import annotations

import asyncio
import email.utils
import subprocess
import sys
import time

import pytest

from rerank_plugins import (
    AuthenticationError,
    ConfigurationError,
    MissingDependencyError,
    Normalization,
    RateLimitedError,
    RequestRejectedError,
    Reranker,
    ServerError,
    TransientError,
)
from rerank_plugins.scorers import from_spec
from rerank_plugins.scorers.hosted import (
    Secret,
    request_timeout,
    retry_after_seconds,
    scores_by_index,
    status_error,
)
from rerank_plugins.testing.server import RerankServer

BACKENDS = ["cohere", "voyage", "tei"]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"RETRY-AFTER": "-3"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_retry_after_seconds(headers, expected):
    assert retry_after_seconds(headers) == expected


def test_retry_after_http_date():
    now = time.time()
    header = {"Retry-After": email.utils.formatdate(now + 30, usegmt=True)}
    assert retry_after_seconds(header, now=now) == pytest.approx(30, abs=1)
    past = {"Retry-After": email.utils.formatdate(now - 30, usegmt=True)}
    assert retry_after_seconds(past, now=now) == 0.0


@pytest.mark.parametrize(
    ("status", "kind", "reason"),
    [
        (401, AuthenticationError, None),
        (403, AuthenticationError, None),
        (498, AuthenticationError, None),
        (400, RequestRejectedError, None),
        (404, RequestRejectedError, None),
        (413, RequestRejectedError, None),
        (422, RequestRejectedError, None),
        (408, ServerError, "http_408"),
        (424, ServerError, "http_424"),
        (429, RateLimitedError, "http_429"),
        (500, ServerError, "http_500"),
        (502, ServerError, "http_502"),
        (503, ServerError, "http_503"),
        (504, ServerError, "http_504"),
    ],
)
def test_status_error_table(status, kind, reason):
    error = status_error(
        "Demo", status, "says no", headers={"Retry-After": "4"}, key_hint="set DEMO_KEY", model="m"
    )
    assert type(error) is kind
    assert f"HTTP {status}" in str(error) and "says no" in str(error)
    if issubclass(kind, TransientError):
        assert error.reason == reason
        assert error.retry_after == 4.0
    if kind is AuthenticationError:
        assert "set DEMO_KEY" in str(error)
    if status == 413:
        assert "fewer or shorter texts" in str(error)
    elif status == 404:
        assert "check base_url" in str(error)
    elif kind is RequestRejectedError:
        assert "check the model name ('m')" in str(error)


def test_status_error_scrubs_an_echoed_key():
    secret = Secret("sk-echoed")
    error = status_error(
        "Demo", 401, "bad key sk-echoed", key_hint="set K", model="m", secret=secret
    )
    assert "sk-echoed" not in str(error) and "bad key ***" in str(error)


@pytest.mark.parametrize(
    ("pairs", "n", "says"),
    [
        ([(0, 0.5), (1, 0.2)], 3, "2 results for 3 texts (no score for index 2)"),
        ([(0, 0.5), (3, 0.2)], 2, "index 3, outside 0..1"),
        ([(0, 0.5), (-1, 0.2)], 2, "index -1, outside 0..1"),
        ([(0, 0.5), (None, 0.2)], 2, "index None, not an integer"),
        ([(0, 0.5), (True, 0.2)], 2, "index True, not an integer"),
        ([(0, 0.5), ("1", 0.2)], 2, "index '1', not an integer"),
        ([(0, 0.5), (0, 0.2)], 2, "index 0 appears twice"),
        ([(0, 0.5), (1, None)], 2, "the score of index 1 is None"),
        ([(0, 0.5), (1, float("nan"))], 2, "the score of index 1 is nan"),
        ([(0, 0.5), (1, "0.2")], 2, "the score of index 1 is '0.2'"),
    ],
)
def test_scores_by_index_rejects_malformed_results(pairs, n, says):
    with pytest.raises(TransientError) as info:
        scores_by_index("Demo", pairs, n)
    assert info.value.reason == "malformed_response"
    assert says in str(info.value)


def test_scores_by_index_maps_by_index_not_position():
    assert scores_by_index("Demo", [(2, 0.9), (0, 0.1), (1, 0.5)], 3) == [0.1, 0.5, 0.9]


def test_request_timeout_is_the_time_left_capped():
    assert request_timeout(None, 60.0) == 60.0
    assert request_timeout(2.5, 60.0) == 2.5
    assert request_timeout(100.0, 60.0) == 60.0
    assert request_timeout(0.0, 60.0) == 0.001, (
        "never a zero timeout (some clients read it as none)"
    )


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("timeout", 0, "timeout=0; pass a positive number."),
        ("timeout", "soon", "option 'timeout' expects float"),  # a spec's "5" becomes 5.0
        ("max_retries", -1, "max_retries=-1; pass an integer >= 0"),
        ("max_concurrency", 0, "max_concurrency=0; pass an integer >= 1"),
        ("unit_size", 1.5, "unit_size=1.5"),
        ("base_url", "localhost:8080", "pass a full URL"),
    ],
)
def test_bad_options_are_configuration_errors(backend, option, value, says):
    with pytest.raises(ConfigurationError) as info:
        from_spec(backend, api_key="k", **{option: value})
    assert isinstance(info.value, ValueError)
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("spec", "option", "value", "says"),
    [
        ("cohere", "max_tokens_per_doc", 0, "max_tokens_per_doc=0; pass an integer >= 1 or None"),
        ("voyage", "truncation", "yes", "truncation='yes'; pass True or False"),
        ("tei", "raw_scores", 1, "raw_scores=1; pass True or False"),
        ("tei", "truncate", None, "truncate=None; pass True or False"),
        ("cohere:", "timeout", 5.0, "Spec 'cohere:' has an empty model part after ':'"),
    ],
)
def test_backend_specific_options(spec, option, value, says):
    # "cohere:" has an empty model part: refused (issue 28), as "cohere: " always was; "cohere"
    # alone is the way to ask for the default model.
    assert from_spec("cohere", api_key="k").model == "rerank-v3.5"
    with pytest.raises(ConfigurationError, match=says.replace("(", r"\(")):
        from_spec(spec, api_key="k", **{option: value})


def test_blank_model_is_a_configuration_error():
    from rerank_plugins.scorers.cohere import CohereScorer

    with pytest.raises(ConfigurationError, match="needs a model name"):
        CohereScorer("  ", api_key="k")


def test_tei_normalisation_follows_raw_scores():
    server = RerankServer.shared()
    raw = server.scorer_for("tei")
    activated = server.scorer_for("tei", raw_scores=False)
    assert raw.normalization is Normalization.SIGMOID
    assert activated.normalization is Normalization.IDENTITY
    texts = ["a cat", "the red fox", "fox"]
    a = Reranker(raw).rerank("red fox", texts)
    b = Reranker(activated).rerank("red fox", texts)
    assert a.indices == b.indices
    assert [i.score for i in a] == pytest.approx([i.score for i in b])
    assert [i.raw_score for i in a] != [i.raw_score for i in b], "logits vs probabilities"


@pytest.mark.parametrize("backend", BACKENDS)
def test_sync_and_async_give_the_same_result(backend):
    scorer = RerankServer.shared().scorer_for(backend)
    texts = ["green pear", "red apple pie", "apple", "a red apple", "pie"]
    sync = Reranker(scorer).rerank("red apple pie", texts)
    asyn = asyncio.run(Reranker(scorer).arerank("red apple pie", texts))
    assert sync.indices == asyn.indices
    assert [i.score for i in sync] == [i.score for i in asyn]


@pytest.mark.parametrize("backend", ["cohere", "tei"])
def test_one_async_client_per_event_loop(backend):
    scorer = RerankServer.shared().scorer_for(backend)

    async def client_of_this_loop() -> object:
        await Reranker(scorer).arerank("fox", ["a fox"])
        first = await scorer.async_client()
        assert await scorer.async_client() is first
        return first

    one = asyncio.run(client_of_this_loop())
    two = asyncio.run(client_of_this_loop())
    assert one is not two, "a client is bound to its loop: a new loop gets a new client"


@pytest.mark.parametrize(
    ("module", "extra", "cls", "kwargs"),
    [
        ("cohere", "cohere", "CohereScorer", {"api_key": "k"}),
        ("voyageai", "voyage", "VoyageScorer", {"api_key": "k"}),
        ("httpx", "tei", "TEIScorer", {}),
    ],
)
def test_missing_sdk_names_the_extra(monkeypatch, module, extra, cls, kwargs):
    import importlib

    mod = importlib.import_module(f"rerank_plugins.scorers.{extra}")
    scorer = getattr(mod, cls)(**kwargs)
    monkeypatch.setitem(sys.modules, module, None)  # as if the package were not installed
    with pytest.raises(MissingDependencyError) as info:
        scorer.prepare()
    assert f"pip install 'rerank-plugins[{extra}]'" in str(info.value)
    assert isinstance(info.value, ImportError)


def test_importing_the_scorers_loads_no_sdk():
    code = (
        "import sys\n"
        "import rerank_plugins.scorers.cohere, rerank_plugins.scorers.voyage\n"
        "import rerank_plugins.scorers.tei, rerank_plugins.testing.server\n"
        "from rerank_plugins.scorers.cohere import CohereScorer\n"
        "CohereScorer(api_key='k')\n"
        "print(sorted(m for m in ('cohere', 'voyageai', 'httpx') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("backend", BACKENDS)
def test_async_clients_are_released_with_their_loop(backend):
    """30 asyncio.run calls leave no client and no file descriptor behind."""
    import os

    scorer = RerankServer.shared().scorer_for(backend)

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    asyncio.run(Reranker(scorer).arerank("fox", ["a fox", "a hen"]))
    before = open_fds()
    for _ in range(30):
        asyncio.run(Reranker(scorer).arerank("fox", ["a fox", "a hen"]))
    assert open_fds() <= before + 2
    assert scorer.open_clients["async"] == 0


@pytest.mark.parametrize("backend", ["cohere", "tei"])
def test_clients_close_on_request_and_as_context_managers(backend):
    scorer = RerankServer.shared().scorer_for(backend)

    async def use_then_close() -> int:
        async with scorer:
            await Reranker(scorer).arerank("fox", ["a fox"])
            assert scorer.open_clients["async"] == 1
        return scorer.open_clients["async"]

    assert asyncio.run(use_then_close()) == 0
    with scorer:
        Reranker(scorer).rerank("fox", ["a fox"])
        assert scorer.open_clients["sync"] == 1
    assert scorer.open_clients["sync"] == 0
    assert Reranker(scorer).rerank("fox", ["a fox"]).stats.scored == 1  # a new client
