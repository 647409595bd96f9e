"""A small TCP proxy on 127.0.0.1 that makes a real replica slow, or answer errors.

Put :class:`FaultProxy` in front of a serving engine's port and point a client at the proxy's
port: with ``delay_s`` each request waits that long before it is forwarded (a replica that is
slow, not dead: the answer is the engine's own); with ``fault="http_503"`` the proxy answers every
HTTP request itself with a 503 and a Cohere/TEI-style error body (a replica that is up but
failing). Both can be changed while it runs (``proxy.delay_s = 0.3``).

It is bounded: it listens on loopback only, serves at most ``max_connections`` connections at
once (more wait in the listen queue), and every socket has a timeout, so a test that forgets it
cannot leave it hanging; :meth:`FaultProxy.stop` closes every connection.

Example:
    >>> import httpx
    >>> from rerank_plugins.testing.server import RerankServer
    >>> with RerankServer(api_key="k") as server, FaultProxy(server.port, delay_s=0.2) as proxy:
    ...     body = {"query": "fox", "texts": ["a fox"]}
    ...     r = httpx.post(proxy.url + "/rerank", json=body, headers={"Authorization": "Bearer k"})
    >>> r.status_code, r.elapsed.total_seconds() >= 0.2
    (200, True)
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading

from rerank_plugins.testing._background import Background

__all__ = ["FaultProxy"]

_CHUNK = 65536
_IO_TIMEOUT_S = 120.0


class FaultProxy(Background):
    """A stalling or failing TCP proxy in front of ``127.0.0.1:<target_port>``.

    Args:
        target_port: The port of the real server (on 127.0.0.1).
        delay_s: Seconds each request waits before it is forwarded.
        fault: ``None`` to forward, or ``"http_503"`` to answer every request with a 503.
        max_connections: Connections served at once.
    """

    def __init__(
        self,
        target_port: int,
        *,
        delay_s: float = 0.0,
        fault: str | None = None,
        max_connections: int = 64,
    ) -> None:
        if fault not in (None, "http_503"):
            raise ValueError(f"FaultProxy fault must be None or 'http_503', got {fault!r}.")
        self.target_port = int(target_port)
        self.delay_s = float(delay_s)
        self.fault = fault
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.requests = 0

    @property
    def port(self) -> int:
        if self._listener is None:
            raise RuntimeError("FaultProxy is not running; use it as a context manager.")
        return int(self._listener.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.settimeout(0.1)
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            for sock in list(self._sockets):
                _close(sock)
            self._sockets.clear()
        if self._listener is not None:
            _close(self._listener)
            self._listener = None

    # -- serving -------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            if not self._slots.acquire(timeout=0.1):
                continue
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                self._slots.release()
                continue
            client.settimeout(_IO_TIMEOUT_S)
            _no_delay(client)
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            if self.fault == "http_503":
                self._answer_errors(client)
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            upstream.settimeout(_IO_TIMEOUT_S)
            _no_delay(upstream)
            self._track(upstream)
            self._pipe(client, upstream)
        except OSError:
            pass  # the engine is down or a side hung up: the client sees the connection close
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    _close(sock)
                    with self._lock:
                        self._sockets.discard(sock)
            self._slots.release()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward both ways; the first bytes of each request wait ``delay_s``."""
        answered = threading.Event()
        answered.set()

        def back() -> None:
            with contextlib.suppress(OSError):
                while data := upstream.recv(_CHUNK):
                    client.sendall(data)
                    answered.set()
            _close(client)

        threading.Thread(target=back, daemon=True).start()
        while not self._stop.is_set():
            data = client.recv(_CHUNK)
            if not data:
                break
            if answered.is_set():  # the start of a new request: this is where it stalls
                answered.clear()
                with self._lock:
                    self.requests += 1
                if self.delay_s > 0 and self._stop.wait(self.delay_s):
                    break
            upstream.sendall(data)

    def _answer_errors(self, client: socket.socket) -> None:
        buffer = b""
        while not self._stop.is_set():
            while b"\r\n\r\n" not in buffer:
                data = client.recv(_CHUNK)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            while len(buffer) < length:
                data = client.recv(_CHUNK)
                if not data:
                    return
                buffer += data
            buffer = buffer[length:]
            with self._lock:
                self.requests += 1
            body = json.dumps(
                {"message": "replica unavailable", "error": "replica unavailable"}
            ).encode()
            client.sendall(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )


def _no_delay(sock: socket.socket) -> None:
    """Send each piece at once: with Nagle's algorithm on, a small write waits for the peer's
    delayed ACK (some 40 ms), which would be the proxy's latency, not the replica's."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
