"""One error boundary for everything that speaks HTTP: one status table, one Retry-After parser,
one scrubber, used by the hosted scorers and the LLM clients alike."""

from __future__ import annotations

import email.utils
import time

import pytest

from rerank_plugins._exceptions import (
    AuthenticationError,
    ConnectionFailedError,
    MalformedResponseError,
    RateLimitedError,
    RequestRejectedError,
    ServerError,
    TimedOutError,
    TransientError,
)
from rerank_plugins._http_errors import retry_after_seconds, scrub, status_class
from rerank_plugins.scorers.hosted import Secret, status_error
from rerank_plugins.scorers.llm import translate_error


class _Response:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status_code = status
        self.headers = headers


class ProviderError(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"provider said {status}")
        self.response = _Response(status, headers or {})


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, AuthenticationError), (403, AuthenticationError), (498, AuthenticationError),
     (400, RequestRejectedError), (404, RequestRejectedError), (413, RequestRejectedError),
     (422, RequestRejectedError), (408, ServerError), (409, ServerError),
     (424, ServerError), (429, RateLimitedError), (500, ServerError), (503, ServerError)],
)  # fmt: skip
def test_hosted_scorers_and_llm_clients_classify_every_status_alike(status, kind):
    family = TransientError if issubclass(kind, TransientError) else kind
    assert status_class(status) is family
    hosted = status_error("Demo", status, "boom", key_hint="set DEMO_KEY", model="m")
    llm = translate_error(ProviderError(status), "Judge")
    assert type(hosted) is kind and type(llm) is kind
    if family is TransientError:
        assert hosted.reason == llm.reason == f"http_{status}"


def test_transport_failures_are_typed_transient_errors_with_their_reason():
    import asyncio

    import httpx

    from rerank_plugins.scorers.hosted import transport_error

    cases = [
        (httpx.ReadTimeout("slow"), TimedOutError, "timeout"),
        (asyncio.TimeoutError(), TimedOutError, "timeout"),
        (httpx.ConnectError("refused"), ConnectionFailedError, "connection"),
        (httpx.RemoteProtocolError("hung up"), ConnectionFailedError, "connection"),
    ]
    for exc, kind, reason in cases:
        got = transport_error("Demo", exc)
        assert type(got) is kind and isinstance(got, TransientError) and got.reason == reason
    assert type(translate_error(TimeoutError("read timed out"), "J")) is TimedOutError
    assert type(translate_error(ConnectionError("reset"), "J")) is ConnectionFailedError
    assert MalformedResponseError("x").reason == "malformed_response"
    assert RateLimitedError("x", retry_after=2.0).retry_after == 2.0


def test_both_read_retry_after_as_seconds_or_an_http_date():
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    for value, low, high in (("2", 2.0, 2.0), (date, 25.0, 31.0)):
        hosted = status_error("D", 429, "x", headers={"Retry-After": value}, key_hint="", model="")
        llm = translate_error(ProviderError(429, {"retry-after": value}), "J")
        assert isinstance(hosted, TransientError) and isinstance(llm, TransientError)
        for got in (hosted.retry_after, llm.retry_after):
            assert got is not None and low <= got <= high
    assert retry_after_seconds({"Retry-After": "soon"}) is None


def test_one_scrubber_removes_the_known_key_and_key_like_strings():
    key = "zz-" + "q" * 40
    hosted = status_error("D", 401, f"bad key {key}", key_hint="", model="", secret=Secret(key))
    assert key not in str(hosted)
    assert "sk-abcdef123456" not in scrub("token sk-abcdef123456 was refused")
    llm = translate_error(ProviderError(401), "J")
    assert "provider said 401" in str(llm)
