"""API keys are secrets: never in a repr, a log line, an exception or a serialised adapter.

Each check runs the real scorer over real HTTP (the local server), including failing calls, with
every logger at DEBUG and the SDKs' own logging turned up, and searches everything that comes out
for the key.
"""

from __future__ import annotations

import copy
import logging
import pickle
import traceback

import pytest

from rerank_plugins import AuthenticationError, Reranker, TransientError
from rerank_plugins.testing.server import RerankServer

ENV = {
    "cohere": ("CO_API_KEY", "COHERE_API_KEY"),
    "voyage": ("VOYAGE_API_KEY",),
    "tei": ("TEI_API_KEY",),
}


def _everything(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


def test_key_not_in_repr_str_or_adapters(server, backend):
    key = server.new_key()
    scorer = server.scorer_for(backend, key=key)
    scorer.prepare()
    from langchain_core.load import dumps

    from rerank_plugins.langchain import RerankCompressor
    from rerank_plugins.llama_index import RerankPostprocessor

    post = RerankPostprocessor(scorer=scorer, top_n=2)
    compressor = RerankCompressor(scorer=scorer, top_n=2)
    outputs = [
        repr(scorer),
        str(scorer),
        repr(vars(scorer)),
        repr(Reranker(scorer)),
        repr(post),
        str(post),
        post.model_dump_json(),
        post.to_json(),
        repr(post.to_dict()),
        repr(compressor),
        compressor.model_dump_json(),
        dumps(compressor),
    ]
    for text in outputs:
        assert key not in text
    assert post.model_dump()["scorer"] == {
        "class": type(scorer).__name__,
        "backend": backend,
        "model": scorer.model,
    }


def test_key_is_not_picklable_but_copies_share_it(server, backend):
    key = server.new_key()
    scorer = server.scorer_for(backend, key=key)
    with pytest.raises(TypeError) as info:
        pickle.dumps(scorer.secret)
    assert key not in str(info.value) and "not picklable" in str(info.value)
    assert copy.deepcopy(scorer.secret) is scorer.secret


def test_key_not_in_logs_or_errors_of_failing_calls(server, backend, caplog, capfd):
    import voyageai

    voyageai.log = "debug"  # the SDK's own console logging, at its loudest
    try:
        keys = [server.key_for(f) for f in ("http_503", "drop", "malformed_json", "http_400")]
        keys.append(f"wrong-{server.new_key()}")
        seen: list[str] = []
        with caplog.at_level(logging.DEBUG):
            for key in keys:
                scorer = server.scorer_for(backend, key=key, max_retries=1)
                for on_error in ("fallback", "raise"):
                    try:
                        result = Reranker(scorer, on_error=on_error).rerank("red fox", ["a fox"])
                        seen.append(repr(result))
                    except (TransientError, AuthenticationError, ValueError) as exc:
                        seen.append(_everything(exc))
        captured = capfd.readouterr()
        seen += [caplog.text, captured.out, captured.err]
        seen += [repr(record.__dict__) for record in caplog.records]
        for key in keys:
            assert all(key not in text for text in seen), f"{key} leaked"
        assert any("HTTP 401" in text for text in seen)
    finally:
        voyageai.log = None


def test_a_key_echoed_by_the_server_reaches_no_traceback_and_no_log(server, backend, caplog):
    import voyageai

    voyageai.log = "debug"
    try:
        key = server.key_for("http_400_echo_key")
        scorer = server.scorer_for(backend, key=key, max_retries=0)
        with caplog.at_level(logging.DEBUG), pytest.raises(ValueError) as info:
            Reranker(scorer, on_error="raise").rerank("red fox", ["a fox"])
        assert "HTTP 400" in str(info.value)
        everything = _everything(info.value) + caplog.text
        everything += "".join(repr(record.__dict__) for record in caplog.records)
        assert key not in everything, "the key reached a traceback or a log record"
    finally:
        voyageai.log = None


def test_missing_key_raises_at_once_naming_the_variable(backend, monkeypatch):
    for var in ENV[backend]:
        monkeypatch.delenv(var, raising=False)
    server = RerankServer.shared()
    if backend == "tei":  # TEI servers run without a key unless started with --api-key
        from rerank_plugins.scorers.tei import TEIScorer

        scorer = TEIScorer(base_url=server.url)
        with pytest.raises(AuthenticationError, match="TEI_API_KEY"):
            Reranker(scorer).rerank("fox", ["a fox"])
        return
    cls = type(server.scorer_for(backend))
    with pytest.raises(AuthenticationError) as info:
        cls()
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"{cls.__name__} needs an API key: pass api_key=... or set ")
    for var in ENV[backend]:
        assert var in str(info.value)


def test_key_comes_from_the_argument_then_the_environment(backend, monkeypatch):
    server = RerankServer.shared()
    cls = type(server.scorer_for(backend))
    first, *rest = ENV[backend]
    monkeypatch.setenv(first, server.api_key)
    for var in rest:
        monkeypatch.setenv(var, "from-the-second-variable")
    base = server.voyage_url if backend == "voyage" else server.url
    from_env = cls(base_url=base)
    assert from_env.secret.get() == server.api_key
    assert Reranker(from_env).rerank("fox", ["a cat", "a fox"]).items[0].text == "a fox"
    assert cls(api_key="explicit", base_url=base).secret.get() == "explicit"
    with pytest.raises(AuthenticationError, match="empty"):
        cls(api_key="  ", base_url=base)
