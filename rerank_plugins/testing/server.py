"""A local HTTP server that speaks the rerank protocols of Cohere, Voyage AI and TEI.

Not a mock: a real HTTP/1.1 server on ``127.0.0.1`` that the real SDKs (``cohere``,
``voyageai``) and ``httpx`` talk to through their base-URL settings. It implements the wire
contracts as the providers document them:

============================  =================================================================
``POST /v1/rerank`` (Cohere)  ``{model?, query, documents: [str | {text}], top_n?,
                              return_documents?, rank_fields?, max_chunks_per_doc?}`` →
                              ``{id, results: [{index, relevance_score, document?}], meta}``
``POST /v2/rerank`` (Cohere)  ``{model, query, documents: [str], top_n?, max_tokens_per_doc?}``
                              → ``{id, results: [{index, relevance_score}], meta:
                              {api_version, billed_units: {search_units}}}``
``POST /v1/rerank`` (Voyage)  ``{query, documents, model, top_k?, truncation?,
                              return_documents?}`` → ``{object: "list", data: [{index,
                              relevance_score, document?}], model, usage: {total_tokens}}``
                              (told apart from Cohere's v1 by ``top_k``/``truncation`` or a
                              ``rerank-<n>`` model name, or served alone under ``/voyage``)
``POST /rerank`` (TEI)        ``{query, texts, raw_scores?, truncate?, return_text?,
                              truncation_direction?}`` → ``[{index, score, text?}]``
============================  =================================================================

Errors use each provider's body (Cohere ``{"message"}``, Voyage ``{"detail"}``, TEI ``{"error",
"error_type"}``) and status codes; ``null`` optional fields count as absent; more than
``max_documents`` (1,000) texts is a 400 (TEI: more than ``max_client_batch_size`` is a 413);
``top_n``/``top_k`` above the list returns the whole list. Every request needs
``Authorization: Bearer <key>``.

Scoring is lexical and deterministic, so tests can assert orders: relevance =
``0.8 * (share of the query's words found in the text) + 0.2 * (share of the text's words that
are query words)``, in ``[0, 1]``; TEI's raw score is the logit ``8 * relevance - 4``.

**Faults on request.** :meth:`RerankServer.key_for` returns a fresh API key that makes the
server misbehave in a chosen way on its first ``times`` requests (or always), then behave; the
real SDKs trigger faults just by using that key. A request may also carry an
``X-Rerank-Fault: <fault>`` header. The faults: ``http_429`` (with ``Retry-After``),
``http_429_no_retry_after``, ``http_500``, ``http_503``, ``slow`` (answers after ``delay_s``),
``drop`` (closes the connection without answering), ``drop_mid_body`` (sends the headers and
half the body, then hangs up), ``slow_body`` (sends a correct answer one byte every ``delay_s``
seconds: each read is quick, the whole body is not), ``malformed_json``, ``index_out_of_range``,
``index_missing``, ``short_results``, ``http_400`` and ``http_400_echo_key`` (a 400 whose error
message repeats the API key it was sent, as some gateways do).

Example:
    >>> import httpx
    >>> with RerankServer() as server:
    ...     body = {"query": "fox", "texts": ["a fox", "a cat"]}
    ...     auth = {"Authorization": f"Bearer {server.api_key}"}
    ...     r = httpx.post(server.url + "/rerank", json=body, headers=auth)
    >>> [item["index"] for item in r.json()]
    [0, 1]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import itertools
import json
import math
import re
import secrets
import socket
import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rerank_plugins._scorer import Scorer

__all__ = ["FAULTS", "RerankServer", "ServedRequest", "lexical_relevance"]

FAULTS = (
    "http_429",
    "http_429_no_retry_after",
    "http_500",
    "http_503",
    "slow",
    "drop",
    "drop_mid_body",
    "slow_body",
    "malformed_json",
    "index_out_of_range",
    "index_missing",
    "short_results",
    "http_400",
    "http_400_echo_key",
)
"""The faults the server injects on request."""

_SHARED: RerankServer | None = None
_SHARED_LOCK = threading.Lock()

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


def lexical_relevance(query: str, text: str) -> float:
    """The server's deterministic relevance of ``text`` to ``query``, in ``[0, 1]``.

    Example:
        >>> lexical_relevance("red fox", "the red fox")
        0.9333333333333333
        >>> lexical_relevance("red fox", "a cat")
        0.0
    """
    wanted = set(_words(query))
    words = _words(text)
    if not wanted or not words:
        return 0.0
    found = wanted & set(words)
    coverage = len(found) / len(wanted)
    density = sum(1 for w in words if w in wanted) / len(words)
    return 0.8 * coverage + 0.2 * density


@dataclass(frozen=True)
class ServedRequest:
    """One request the server answered (or dropped), for tests to inspect."""

    route: str
    provider: str
    key: str | None
    documents: int
    fault: str | None
    status: int


@dataclass
class _Script:
    fault: str
    remaining: int | None  # None: always
    retry_after: float
    delay_s: float


class _Reject(Exception):
    """A request the provider would refuse, with its status and message."""

    def __init__(self, status: int, message: str, error_type: str = "validation") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type


class RerankServer:
    """The local rerank server, started and stopped by a context manager.

    Args:
        api_key: The valid key (default: a random one, ``server.api_key``).
        host: Loopback only (``127.0.0.1``); it never listens beyond this machine.
        port: ``0`` picks a free port (``server.port``).
        max_documents: The per-request document limit of Cohere and Voyage (1,000).
        max_client_batch_size: TEI's ``--max-client-batch-size`` (TEI's default: 32).
        max_input_tokens: TEI's model maximum; longer inputs are a 413 unless ``truncate``.
        latency_s: Seconds every answer waits (to measure or exercise budgets).

    Example:
        >>> with RerankServer() as server:
        ...     server.url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        max_documents: int = 1000,
        max_client_batch_size: int = 32,
        max_input_tokens: int = 512,
        latency_s: float = 0.0,
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"RerankServer listens on loopback only, got host={host!r}.")
        self.api_key = api_key or f"rk-test-{secrets.token_hex(8)}"
        self.host = host
        self.max_documents = max_documents
        self.max_client_batch_size = max_client_batch_size
        self.max_input_tokens = max_input_tokens
        self.latency_s = latency_s
        self._requested_port = port
        self._lock = threading.Lock()
        self._scripts: dict[str, _Script] = {}
        self._served: list[ServedRequest] = []
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> RerankServer:
        """Bind the port and serve in a background thread."""
        if self._httpd is not None:
            return self
        handler = type("_BoundHandler", (_Handler,), {"rerank_server": self})
        httpd = _QuietServer((self.host, self._requested_port), handler)
        self._httpd = httpd
        self._stop.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; slow answers in flight are cut short."""
        self._stop.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> RerankServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("RerankServer is not running; use it as a context manager.")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``: the base URL of Cohere's SDK and of TEI."""
        return f"http://{self.host}:{self.port}"

    @property
    def voyage_url(self) -> str:
        """The base URL of Voyage's SDK, which includes the version: ``<url>/v1``."""
        return f"{self.url}/v1"

    @classmethod
    def shared(cls) -> RerankServer:
        """One process-wide server, started on first use and stopped at exit.

        For test suites and doctests that want one server for many tests; give each scorer its
        own key (:meth:`new_key`, :meth:`key_for`) to tell their requests apart.
        """
        with _SHARED_LOCK:
            global _SHARED
            if _SHARED is None:
                _SHARED = cls().start()
                atexit.register(_SHARED.stop)
            return _SHARED

    # -- faults and inspection -----------------------------------------------------------
    def scorer_for(self, backend: str, *, key: str | None = None, **options: Any) -> Scorer:
        """A hosted scorer of ``backend`` (``cohere``, ``voyage``, ``tei``) aimed at this server.

        Args:
            backend: Which protocol to speak.
            key: The API key (default: :attr:`api_key`).
            **options: More options of the scorer (``unit_size``, ``max_retries``...).

        Example:
            >>> with RerankServer() as server:
            ...     server.scorer_for("voyage").score_unit("fox", ["a fox"], timeout=5).scores
            [0.9]
        """
        key = self.api_key if key is None else key
        if backend == "cohere":
            from rerank_plugins.scorers.cohere import CohereScorer

            return CohereScorer(api_key=key, base_url=self.url, **options)
        if backend == "voyage":
            from rerank_plugins.scorers.voyage import VoyageScorer

            return VoyageScorer(api_key=key, base_url=self.voyage_url, **options)
        if backend == "tei":
            from rerank_plugins.scorers.tei import TEIScorer

            return TEIScorer(api_key=key, base_url=self.url, **options)
        raise ValueError(f"Unknown hosted backend {backend!r}; use 'cohere', 'voyage' or 'tei'.")

    def new_key(self) -> str:
        """A new valid key that never misbehaves (to count one scorer's requests)."""
        key = f"rk-{secrets.token_hex(8)}"
        with self._lock:
            self._scripts[key] = _Script("none", 0, 0.0, 0.0)
        return key

    def key_for(
        self,
        fault: str,
        *,
        times: int | None = None,
        retry_after: float = 1.0,
        delay_s: float = 5.0,
    ) -> str:
        """A new valid key whose first ``times`` requests (``None``: all) suffer ``fault``.

        Args:
            fault: One of :data:`FAULTS`.
            times: How many requests misbehave before the key behaves.
            retry_after: The ``Retry-After`` seconds of ``http_429``.
            delay_s: How long ``slow`` waits before answering, and ``slow_body`` between bytes.
        """
        if fault not in FAULTS:
            raise ValueError(f"Unknown fault {fault!r}; use one of: {', '.join(FAULTS)}.")
        key = f"rk-fault-{fault}-{secrets.token_hex(6)}"
        with self._lock:
            self._scripts[key] = _Script(fault, times, retry_after, delay_s)
        return key

    def served(self, key: str | None = None) -> list[ServedRequest]:
        """The requests answered so far (with ``key``, if given), in order."""
        with self._lock:
            return [r for r in self._served if key is None or r.key == key]

    # -- used by the handler -------------------------------------------------------------
    def _authorise(self, key: str | None) -> bool:
        with self._lock:
            return key is not None and (key == self.api_key or key in self._scripts)

    def _take_fault(self, key: str | None, header: str | None) -> _Script | None:
        if header:
            if header not in FAULTS:
                return None
            return _Script(header, 1, 1.0, 5.0)
        with self._lock:
            script = self._scripts.get(key or "")
            if script is None or script.remaining == 0:
                return None
            if script.remaining is not None:
                script.remaining -= 1
            return script

    def _record(self, request: ServedRequest) -> None:
        with self._lock:
            self._served.append(request)

    def _wait(self, seconds: float) -> bool:
        """Sleep, unless the server stops first; ``True`` if it stopped."""
        return self._stop.wait(seconds) if seconds > 0 else False


# -- the protocols --------------------------------------------------------------------------
def _optional(body: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) and kind is int:
        raise _Reject(400, f"invalid request: {name} must be an integer")
    if not isinstance(value, kind):
        raise _Reject(400, f"invalid request: {name} has the wrong type ({type(value).__name__})")
    return value


def _required_str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise _Reject(400, f"invalid request: {name} is required and must be a string")
    return value


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise _Reject(400, f"invalid request: {name} must be a positive integer, got {value}")
    return value


def _document_list(
    body: dict[str, Any], name: str, limit: int, *, objects: bool = False
) -> list[str]:
    docs = body.get(name)
    if not isinstance(docs, list) or not docs:
        raise _Reject(400, f"invalid request: {name} must be a non-empty list")
    if len(docs) > limit:
        raise _Reject(
            400,
            f"invalid request: {name} has {len(docs)} entries; at most {limit} are allowed per "
            f"request",
        )
    out = []
    for i, doc in enumerate(docs):
        if objects and isinstance(doc, dict) and isinstance(doc.get("text"), str):
            doc = doc["text"]
        if not isinstance(doc, str):
            raise _Reject(400, f"invalid request: {name}[{i}] must be a string")
        out.append(doc)
    return out


def _ranked(query: str, docs: Sequence[str], keep: int | None) -> list[tuple[int, float]]:
    scored = [(i, lexical_relevance(query, d)) for i, d in enumerate(docs)]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[: keep or len(scored)]


def _truncate_tokens(text: str, limit: int | None) -> str:
    if limit is None:
        return text
    tokens = _TOKEN.findall(text)
    return text if len(tokens) <= limit else " ".join(tokens[:limit])


def _cohere(version: int, body: dict[str, Any], server: RerankServer) -> tuple[Any, int]:
    if version == 2:
        _required_str(body, "model")  # v1 falls back to a default model
    query = _required_str(body, "query")
    if not query.strip():
        raise _Reject(400, "invalid request: query must not be empty")
    docs = _document_list(body, "documents", server.max_documents, objects=version == 1)
    top_n = _positive("top_n", _optional(body, "top_n", int))
    max_tokens = _positive("max_tokens_per_doc", _optional(body, "max_tokens_per_doc", int))
    _optional(body, "return_documents", bool)
    scored_docs = [_truncate_tokens(d, max_tokens) for d in docs]
    results: list[dict[str, Any]] = [
        {"index": i, "relevance_score": s} for i, s in _ranked(query, scored_docs, top_n)
    ]
    if version == 1 and body.get("return_documents"):
        for item in results:
            item["document"] = {"text": docs[item["index"]]}
    search_units = math.ceil(len(docs) / 100)  # one query with up to 100 documents
    meta = {
        "api_version": {"version": str(version)},
        "billed_units": {"search_units": search_units},
    }
    return {"id": str(uuid.uuid4()), "results": results, "meta": meta}, len(docs)


def _voyage(body: dict[str, Any], server: RerankServer) -> tuple[Any, int]:
    query = _required_str(body, "query")
    model = _required_str(body, "model")
    docs = _document_list(body, "documents", server.max_documents)
    top_k = _positive("top_k", _optional(body, "top_k", int))
    truncation = _optional(body, "truncation", bool)
    return_documents = _optional(body, "return_documents", bool)
    if truncation is False:
        for i, doc in enumerate(docs):
            if _tokens(query) + _tokens(doc) > 32_000:
                raise _Reject(400, f"Request to model '{model}' failed. Document {i} is too long.")
    data: list[dict[str, Any]] = [
        {"relevance_score": s, "index": i} for i, s in _ranked(query, docs, top_k)
    ]
    if return_documents:
        for item in data:
            item["document"] = docs[item["index"]]
    # Voyage counts query tokens once per document, plus the documents' tokens.
    total = _tokens(query) * len(docs) + sum(_tokens(d) for d in docs)
    return {"object": "list", "data": data, "model": model, "usage": {"total_tokens": total}}, len(
        docs
    )


def _tei(body: dict[str, Any], server: RerankServer) -> tuple[Any, int]:
    query = body.get("query")
    texts = body.get("texts")
    if (
        not isinstance(query, str)
        or not isinstance(texts, list)
        or not all(isinstance(t, str) for t in texts)
    ):
        raise _Reject(
            422,
            "Failed to deserialize the JSON body into the target type: `query` must be a string "
            "and `texts` a list of strings",
        )
    if not texts:
        raise _Reject(400, "`texts` cannot be empty", "empty")
    if len(texts) > server.max_client_batch_size:
        raise _Reject(
            413,
            f"batch size {len(texts)} > maximum allowed batch size {server.max_client_batch_size}",
        )
    truncate = bool(body.get("truncate") or False)
    raw = bool(body.get("raw_scores") or False)
    if not truncate:
        for text in texts:
            size = _tokens(query) + _tokens(text)
            if size > server.max_input_tokens:
                raise _Reject(
                    413,
                    f"`inputs` must have less than {server.max_input_tokens} tokens. Given: {size}",
                )
    out: list[dict[str, Any]] = []
    for i, relevance in _ranked(query, texts, None):
        logit = 8.0 * relevance - 4.0
        item: dict[str, Any] = {"index": i, "score": logit if raw else 1 / (1 + math.exp(-logit))}
        if body.get("return_text"):
            item["text"] = texts[i]
        out.append(item)
    return out, len(texts)


def _is_voyage(body: dict[str, Any]) -> bool:
    model = body.get("model")
    return (
        "top_k" in body
        or "truncation" in body
        or (
            isinstance(model, str)
            and re.fullmatch(r"rerank-(lite-)?\d(\.\d)?(-lite)?", model) is not None
        )
    )


def _error_body(provider: str, message: str, error_type: str) -> Any:
    if provider == "voyage":
        return {"detail": message}
    if provider == "tei":
        return {"error": message, "error_type": error_type}
    return {"message": message}


def _corrupt(payload: Any, provider: str, fault: str) -> Any:
    """The response with its results list broken the way ``fault`` says."""
    items = payload if provider == "tei" else payload["data" if provider == "voyage" else "results"]
    if fault == "index_out_of_range" and items:
        items[0]["index"] = len(items) + 7
    elif fault == "index_missing" and items:
        del items[0]["index"]
    elif fault == "short_results" and items:
        items.pop()
    return payload


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the stdlib's 5 drops connections under a burst of clients

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout, a budget) is expected here, not an error."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, keep-alive clients would wait ~40 ms
    # for a delayed ACK on every answer, a latency no real server has.
    disable_nagle_algorithm = True
    rerank_server: RerankServer  # set on the bound subclass

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :meth:`RerankServer.served` instead of stderr."""

    def do_POST(self) -> None:
        server = self.rerank_server
        route = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        provider = {"/v2/rerank": "cohere", "/rerank": "tei", "/voyage/v1/rerank": "voyage"}.get(
            route, "cohere" if route == "/v1/rerank" else ""
        )
        if not provider:
            self._send(404, {"message": f"no route {route}"})
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if provider == "cohere" and route == "/v1/rerank" and isinstance(body, dict):
            provider = "voyage" if _is_voyage(body) else "cohere"
        key = _bearer(self.headers.get("Authorization"))
        if not server._authorise(key):
            self._reject(provider, route, key, 401, _unauthorised(provider), "unauthorized")
            return
        script = server._take_fault(key, self.headers.get("X-Rerank-Fault"))
        fault = script.fault if script else None
        if fault == "drop":
            server._record(ServedRequest(route, provider, key, 0, fault, 0))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if server._wait(server.latency_s) or (fault == "slow" and server._wait(script.delay_s)):  # type: ignore[union-attr]
            return
        if fault == "http_400_echo_key":
            message = f"invalid request for API key {key}: the request was refused"
            self._reject(provider, route, key, 400, message, "invalid_request")
            return
        if fault in ("http_429", "http_429_no_retry_after", "http_500", "http_503", "http_400"):
            status = int(fault[5:8])
            headers = {"Retry-After": f"{script.retry_after:g}"} if fault == "http_429" else {}  # type: ignore[union-attr]
            self._reject(
                provider, route, key, status, _fault_message(status), "overloaded", headers
            )
            return
        try:
            if not isinstance(body, dict):
                raise _Reject(
                    422 if provider == "tei" else 400,
                    "invalid request: the body must be a JSON object",
                )
            if provider == "tei":
                payload, n = _tei(body, server)
            elif provider == "voyage":
                payload, n = _voyage(body, server)
            else:
                payload, n = _cohere(2 if route == "/v2/rerank" else 1, body, server)
        except _Reject as rej:
            self._reject(provider, route, key, rej.status, rej.message, rej.error_type)
            return
        server._record(ServedRequest(route, provider, key, n, fault, 200))
        if fault == "malformed_json":
            self._send_raw(200, b'{"results": [{"index": 0, "relevance_score": 0.5}')
            return
        if fault in ("drop_mid_body", "slow_body"):
            self._send_in_pieces(json.dumps(payload).encode(), fault, script.delay_s)  # type: ignore[union-attr]
            return
        if fault is not None:
            payload = _corrupt(payload, provider, fault)
        self._send(200, payload)

    def _reject(
        self,
        provider: str,
        route: str,
        key: str | None,
        status: int,
        message: str,
        error_type: str,
        headers: dict[str, str] | None = None,
        fault: str | None = None,
    ) -> None:
        self.rerank_server._record(ServedRequest(route, provider, key, 0, fault, status))
        if provider == "tei" and status == 401:
            self._send_raw(401, b"", headers)  # TEI's auth layer answers with an empty body
            return
        self._send(status, _error_body(provider, message, error_type), headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(status, json.dumps(payload).encode(), headers)

    def _send_in_pieces(self, data: bytes, fault: str, delay_s: float) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            if fault == "drop_mid_body":
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            for i in range(len(data)):
                if self.rerank_server._wait(delay_s):
                    return
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up on the body: nothing to do

    def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _bearer(header: str | None) -> str | None:
    if not header or not header.lower().startswith("bearer "):
        return None
    return header[7:].strip() or None


def _unauthorised(provider: str) -> str:
    if provider == "voyage":
        return "Provided API key is invalid."
    return "invalid api token"


def _fault_message(status: int) -> str:
    return {
        400: "invalid request: the server refused this request (injected fault)",
        429: "You are past the rate limit; please wait and retry.",
        500: "internal server error, this has been reported to our developers",
        503: "service unavailable; please retry",
    }[status]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the server in the foreground: ``python -m rerank_plugins.testing.server``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", default=None)
    args = parser.parse_args(argv)
    with RerankServer(port=args.port, api_key=args.api_key) as server:
        print(f"Serving Cohere/Voyage/TEI rerank on {server.url} (key: {server.api_key})")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
