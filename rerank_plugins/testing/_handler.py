"""The HTTP side of :class:`~rerank_plugins.testing.server.RerankServer`: routing, keys, faults."""

from __future__ import annotations

import json
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from rerank_plugins.testing._protocols import (
    Reject,
    Script,
    ServedRequest,
    answer,
    corrupt,
    error_body,
    is_voyage,
)

if TYPE_CHECKING:
    from rerank_plugins.testing.server import RerankServer

__all__ = ["Handler", "QuietServer"]

_ROUTES = {"/v2/rerank": "cohere", "/rerank": "tei", "/voyage/v1/rerank": "voyage"}
_STATUS_FAULTS = ("http_429", "http_429_no_retry_after", "http_500", "http_503", "http_400")


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # the stdlib's 5 drops connections under a burst of clients

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout, a budget) is expected here, not an error."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
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
        provider = _ROUTES.get(route, "cohere" if route == "/v1/rerank" else "")
        if not provider:
            self._send(404, {"message": f"no route {route}"})
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        if provider == "cohere" and route == "/v1/rerank" and isinstance(body, dict):
            provider = "voyage" if is_voyage(body) else "cohere"
        key = _bearer(self.headers.get("Authorization"))
        if not server._authorise(key):
            self._reject(provider, route, key, 401, _unauthorised(provider), "unauthorized")
            return
        script = server._take_fault(key, self.headers.get("X-Rerank-Fault"))
        if not self._fail_before_answer(provider, route, key, script):
            self._answer(provider, route, key, body, script)

    def _fail_before_answer(
        self, provider: str, route: str, key: str | None, script: Script | None
    ) -> bool:
        """Inject a fault that comes before any answer; ``True`` if the request is done."""
        server = self.rerank_server
        fault = script.fault if script else None
        if fault == "drop":
            server._record(ServedRequest(route, provider, key, 0, fault, 0))
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if server._wait(server.latency_s) or (
            script is not None and fault == "slow" and server._wait(script.delay_s)
        ):
            return True
        if fault == "http_400_echo_key":
            message = f"invalid request for API key {key}: the request was refused"
            self._reject(provider, route, key, 400, message, "invalid_request")
            return True
        if script is not None and fault in _STATUS_FAULTS:
            status = int(fault[5:8])
            headers = {"Retry-After": f"{script.retry_after:g}"} if fault == "http_429" else {}
            self._reject(
                provider, route, key, status, _fault_message(status), "overloaded", headers
            )
            return True
        return False

    def _answer(
        self, provider: str, route: str, key: str | None, body: object, script: Script | None
    ) -> None:
        """Answer the request, or break the answer the way the script's fault says."""
        fault = script.fault if script else None
        try:
            payload, n = answer(provider, route, body, self.rerank_server)
        except Reject as rej:
            self._reject(provider, route, key, rej.status, rej.message, rej.error_type)
            return
        self.rerank_server._record(ServedRequest(route, provider, key, n, fault, 200))
        if fault == "malformed_json":
            self._send_raw(200, b'{"results": [{"index": 0, "relevance_score": 0.5}')
        elif script is not None and fault in ("drop_mid_body", "slow_body"):
            self._send_in_pieces(json.dumps(payload).encode(), fault, script.delay_s)
        else:
            self._send(200, payload if fault is None else corrupt(payload, provider, fault))

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
        self._send(status, error_body(provider, message, error_type), headers)

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
