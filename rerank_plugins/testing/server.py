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
import secrets
import threading
from collections.abc import Sequence
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from rerank_plugins._checks import check_int, check_number
from rerank_plugins.testing._background import Background
from rerank_plugins.testing._handler import Handler, QuietServer
from rerank_plugins.testing._protocols import FAULTS, Script, ServedRequest, lexical_relevance

if TYPE_CHECKING:
    from rerank_plugins._scorer import Scorer

__all__ = ["FAULTS", "RerankServer", "ServedRequest", "lexical_relevance"]

_SHARED: RerankServer | None = None
_SHARED_LOCK = threading.Lock()


def _limit(name: str, value: object) -> int:
    """A server limit: a positive integer, or a ``ValueError`` that names it."""
    return cast(int, check_int("RerankServer", name, value, error=ValueError))


class RerankServer(Background):
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
        self.max_documents = _limit("max_documents", max_documents)
        self.max_client_batch_size = _limit("max_client_batch_size", max_client_batch_size)
        self.max_input_tokens = _limit("max_input_tokens", max_input_tokens)
        self.latency_s = cast(
            float, check_number("RerankServer", "latency_s", latency_s, minimum=0, error=ValueError)
        )
        self._requested_port = port
        self._lock = threading.Lock()
        self._scripts: dict[str, Script] = {}
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
        handler = type("_BoundHandler", (Handler,), {"rerank_server": self})
        httpd = QuietServer((self.host, self._requested_port), handler)
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
            self._scripts[key] = Script("none", 0, 0.0, 0.0)
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
            self._scripts[key] = Script(fault, times, retry_after, delay_s)
        return key

    def served(self, key: str | None = None) -> list[ServedRequest]:
        """The requests answered so far (with ``key``, if given), in order."""
        with self._lock:
            return [r for r in self._served if key is None or r.key == key]

    # -- used by the handler -------------------------------------------------------------
    def _authorise(self, key: str | None) -> bool:
        with self._lock:
            return key is not None and (key == self.api_key or key in self._scripts)

    def _take_fault(self, key: str | None, header: str | None) -> Script | None:
        if header:
            if header not in FAULTS:
                return None
            return Script(header, 1, 1.0, 5.0)
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
