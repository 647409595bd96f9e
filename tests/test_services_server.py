"""The local server speaks each provider's wire contract: shapes, validation, errors, auth.

Raw HTTP (``httpx``), so the checks are about the protocol itself, not about an SDK's reading of
it; the SDK round trips are in the other ``test_services_*`` files.
"""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pytest

from rerank_plugins.testing.server import FAULTS, RerankServer, lexical_relevance

ROUTES = {
    "cohere-v1": "/v1/rerank",
    "cohere-v2": "/v2/rerank",
    "voyage": "/v1/rerank",
    "tei": "/rerank",
}


@pytest.fixture(scope="module")
def server() -> RerankServer:
    return RerankServer.shared()


def post(server: RerankServer, api: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or server.api_key}"}
    return httpx.post(server.url + ROUTES[api], json=body, headers=headers, timeout=10)


def body(api: str, texts: list[str], query: str = "red fox", **extra: Any) -> dict[str, Any]:
    if api == "tei":
        return {"query": query, "texts": texts, **extra}
    model = "rerank-2.5" if api == "voyage" else "rerank-v3.5"
    return {"model": model, "query": query, "documents": texts, **extra}


TEXTS = ["a cat", "the red fox", "red", "fox and red"]


def test_cohere_v2_response_shape(server):
    r = post(server, "cohere-v2", body("cohere-v2", TEXTS, top_n=None, max_tokens_per_doc=None))
    assert r.status_code == 200
    data = r.json()
    assert set(data) == {"id", "results", "meta"}
    assert data["meta"] == {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}
    assert [x["index"] for x in data["results"]] == [1, 3, 2, 0]
    for item in data["results"]:
        assert set(item) == {"index", "relevance_score"}
        assert item["relevance_score"] == lexical_relevance("red fox", TEXTS[item["index"]])


def test_cohere_v1_accepts_document_objects_and_returns_documents(server):
    docs = [{"text": t} for t in TEXTS]
    r = post(server, "cohere-v1", {"query": "red fox", "documents": docs, "return_documents": True})
    assert r.status_code == 200
    results = r.json()["results"]
    assert results[0] == {
        "index": 1,
        "relevance_score": pytest.approx(lexical_relevance("red fox", "the red fox")),
        "document": {"text": "the red fox"},
    }
    assert r.json()["meta"]["api_version"] == {"version": "1"}


def test_voyage_response_shape_and_tokens(server):
    r = post(
        server,
        "voyage",
        body("voyage", TEXTS, top_k=None, truncation=None, return_documents=True),
    )
    assert r.status_code == 200
    data = r.json()
    assert data["object"] == "list" and data["model"] == "rerank-2.5"
    assert data["data"][0] == {
        "relevance_score": pytest.approx(lexical_relevance("red fox", "the red fox")),
        "index": 1,
        "document": "the red fox",
    }
    # query tokens x documents + document tokens
    assert data["usage"] == {"total_tokens": 2 * 4 + (2 + 3 + 1 + 3)}


@pytest.mark.parametrize("raw", [True, False])
def test_tei_response_shape_and_raw_scores(server, raw):
    r = post(server, "tei", body("tei", TEXTS, raw_scores=raw, return_text=True))
    assert r.status_code == 200
    data = r.json()
    assert [x["index"] for x in data] == [1, 3, 2, 0]
    for item in data:
        logit = 8 * lexical_relevance("red fox", TEXTS[item["index"]]) - 4
        assert item["score"] == pytest.approx(logit if raw else 1 / (1 + math.exp(-logit)))
        assert item["text"] == TEXTS[item["index"]]


@pytest.mark.parametrize(("api", "field"), [("cohere-v2", "top_n"), ("voyage", "top_k")])
@pytest.mark.parametrize("cut", [1, 2, 50])
def test_top_n_and_top_k_cut_and_clamp(server, api, field, cut):
    r = post(server, api, body(api, TEXTS, **{field: cut}))
    assert r.status_code == 200
    items = r.json()["data" if api == "voyage" else "results"]
    assert [x["index"] for x in items] == [1, 3, 2, 0][:cut]


ERROR_FIELD = {"cohere-v1": "message", "cohere-v2": "message", "voyage": "detail", "tei": "error"}


@pytest.mark.parametrize(
    ("api", "bad", "status", "says"),
    [
        ("cohere-v2", {"query": "q", "documents": ["a"]}, 400, "model is required"),
        ("cohere-v2", {"model": "m", "documents": ["a"]}, 400, "query is required"),
        ("cohere-v2", {"model": "m", "query": " ", "documents": ["a"]}, 400, "must not be empty"),
        ("cohere-v2", {"model": "m", "query": "q", "documents": []}, 400, "non-empty list"),
        ("cohere-v2", {"model": "m", "query": "q", "documents": [3]}, 400, "documents[0]"),
        ("cohere-v2", {"model": "m", "query": "q", "documents": ["a"], "top_n": 0}, 400, "top_n"),
        ("cohere-v2", {"model": "m", "query": "q", "documents": ["a"] * 1001}, 400, "at most 1000"),
        ("voyage", {"query": "q", "documents": ["a"], "top_k": 0}, 400, "model is required"),
        (
            "voyage",
            {"model": "rerank-2", "query": "q", "documents": ["a"], "top_k": 0},
            400,
            "top_k",
        ),
        (
            "voyage",
            {"model": "rerank-2", "query": "q", "documents": ["a"] * 1001, "top_k": None},
            400,
            "at most 1000",
        ),
        ("tei", {"query": "q", "texts": []}, 400, "cannot be empty"),
        ("tei", {"query": "q"}, 422, "Failed to deserialize"),
        ("tei", {"query": "q", "texts": ["a"] * 33}, 413, "maximum allowed batch size 32"),
        ("tei", {"query": "q", "texts": ["word " * 600]}, 413, "less than 512 tokens"),
    ],
)
def test_validation_errors_use_the_providers_bodies(server, api, bad, status, says):
    r = post(server, api, bad)
    assert r.status_code == status
    assert says in r.json()[ERROR_FIELD[api]]


def test_tei_truncate_accepts_long_inputs(server):
    assert post(
        server, "tei", {"query": "q", "texts": ["word " * 600], "truncate": True}
    ).is_success


def test_cohere_max_tokens_per_doc_truncates_before_scoring(server):
    texts = ["padding " * 10 + "red fox"]
    full = post(server, "cohere-v2", body("cohere-v2", texts)).json()["results"][0]
    cut = post(server, "cohere-v2", body("cohere-v2", texts, max_tokens_per_doc=5)).json()
    assert full["relevance_score"] > 0 and cut["results"][0]["relevance_score"] == 0


@pytest.mark.parametrize("api", list(ROUTES))
def test_bearer_auth(server, api):
    r = post(server, api, body(api, TEXTS), key="wrong")
    assert r.status_code == 401
    if api == "tei":
        assert r.content == b""
    else:
        assert r.json()[ERROR_FIELD[api]] in ("invalid api token", "Provided API key is invalid.")
    no_auth = httpx.post(server.url + ROUTES[api], json=body(api, TEXTS), timeout=10)
    assert no_auth.status_code == 401


def test_unknown_route_is_404(server):
    assert httpx.post(server.url + "/v3/rerank", json={}, timeout=10).status_code == 404


def test_faults_by_key_then_recovery(server):
    key = server.key_for("http_429", times=2, retry_after=3)
    first = post(server, "voyage", body("voyage", TEXTS), key=key)
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert "rate limit" in first.json()["detail"]
    assert post(server, "voyage", body("voyage", TEXTS), key=key).status_code == 429
    assert post(server, "voyage", body("voyage", TEXTS), key=key).status_code == 200
    assert [r.status for r in server.served(key)] == [429, 429, 200]


def test_fault_by_header(server):
    headers = {"Authorization": f"Bearer {server.api_key}", "X-Rerank-Fault": "http_503"}
    r = httpx.post(server.url + "/v2/rerank", json=body("cohere-v2", TEXTS), headers=headers)
    assert r.status_code == 503 and "message" in r.json()


def test_unknown_fault_is_refused(server):
    with pytest.raises(ValueError, match="Unknown fault 'nope'"):
        server.key_for("nope")
    assert "drop" in FAULTS


def test_loopback_only():
    with pytest.raises(ValueError, match="loopback"):
        RerankServer(host="0.0.0.0")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_documents": 0}, "RerankServer got max_documents=0; pass an integer >= 1."),
        (
            {"max_client_batch_size": 2.5},
            "RerankServer got max_client_batch_size=2.5; pass an integer >= 1.",
        ),
        (
            {"max_input_tokens": True},
            "RerankServer got max_input_tokens=True; pass an integer >= 1.",
        ),
        ({"latency_s": -0.1}, "RerankServer got latency_s=-0.1; pass a number >= 0."),
    ],
)
def test_bad_limits_are_refused_with_their_name(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        RerankServer(**options)
    assert str(info.value) == message


def test_stop_does_not_wait_for_slow_answers():
    started = time.monotonic()
    with RerankServer() as local:
        key = local.key_for("slow", delay_s=30)
        with pytest.raises(httpx.TimeoutException):
            httpx.post(
                local.url + "/rerank",
                json=body("tei", TEXTS),
                headers={"Authorization": f"Bearer {key}"},
                timeout=0.2,
            )
    assert time.monotonic() - started < 5
    with pytest.raises(RuntimeError, match="not running"):
        _ = local.url
