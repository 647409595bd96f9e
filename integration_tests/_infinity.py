"""Infinity (``infinity-emb``) servers on 127.0.0.1 for the integration tests and the benchmark.

Infinity pins an older sentence-transformers than this project, so it lives in a virtualenv of
its own; ``.ci/run`` makes it and points ``RERANK_PLUGINS_INFINITY`` at its ``infinity_emb``
executable. :func:`export_bundled` writes the bundled cross-encoder as a plain model folder (the
smallest reranker there is offline); :class:`InfinityServer` starts the engine on a fixed port
with ``--url-prefix /v2`` (where the Cohere SDK sends ``/v2/rerank``), waits until it answers,
and can be killed (``SIGKILL``, as a crashed pod) and started again on the same port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import pytest

from tests.samples import QUERY as SAMPLE_QUERY
from tests.samples import TEXTS as SAMPLE_TEXTS

ENGINE = os.environ.get("RERANK_PLUGINS_INFINITY")
SKIP_REASON = (
    "set RERANK_PLUGINS_INFINITY to an infinity_emb executable (.ci/run makes one: "
    "python -m venv .venv-infinity && .venv-infinity/bin/pip install "
    "'infinity-emb[server,torch]==0.0.78' torch==2.13.0)"
)
MODEL_NAME = "scifact-minilm"
MARKS = [pytest.mark.slow, pytest.mark.skipif(not ENGINE, reason=SKIP_REASON)]
"""The tests' ``pytestmark``: slow, and skipped (saying how to set it up) without an engine."""
QUERY = SAMPLE_QUERY
TEXTS = SAMPLE_TEXTS[:4]
"""A claim and four passages, one of which answers it: the calls both test files make."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def export_bundled(folder: Path, **options: Any) -> Any:
    """Save the bundled reranker as a plain sentence-transformers folder; returns the
    in-process scorer (to compare scores with; ``options`` go to its constructor)."""
    from rerank_plugins import CrossEncoderScorer

    local = CrossEncoderScorer("bundled:scifact-minilm", runtime="torch", **options)
    local.prepare()
    local.encoder.save_pretrained(str(folder))
    return local


@contextmanager
def serving_bundled(
    tmp: pytest.TempPathFactory, replicas: int, *, pinned: bool = True, **options: Any
) -> Iterator[tuple[list[InfinityServer], Any]]:
    """The bundled reranker exported once and served by ``replicas`` Infinity processes,
    started together (so they load at once) and stopped on exit; yields the servers and the
    in-process scorer (``options`` go to its constructor, as in :func:`export_bundled`)."""
    folder = tmp.mktemp("scifact-minilm-plain")
    local = export_bundled(folder, **options)
    logs = tmp.mktemp("infinity-logs")
    servers = [
        InfinityServer(folder, logs / f"replica-{i}.log", pinned=pinned).start()
        for i in range(replicas)
    ]
    try:
        for server in servers:
            server.wait_ready()
        yield servers, local
    finally:
        for server in servers:
            server.stop()


class InfinityServer:
    """One Infinity process serving ``model_dir`` on ``127.0.0.1:port``."""

    def __init__(
        self, model_dir: Path, log_path: Path, port: int | None = None, *, pinned: bool = True
    ) -> None:
        """``pinned``: one thread per process and batches of 8 (several replicas share the
        cores); without it the engine's own defaults."""
        self.model_dir = model_dir
        self.log_path = log_path
        self.port = port or free_port()
        self.pinned = pinned
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> InfinityServer:
        """Start the process (without waiting for it: see :meth:`wait_ready`)."""
        assert ENGINE, SKIP_REASON
        self._log = self.log_path.open("a")
        pinned = ["--batch-size", "8"] if self.pinned else []
        threads = {
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
        }
        self.proc = subprocess.Popen(
            [str(ENGINE), "v2", "--model-id", str(self.model_dir), "--served-model-name",
             MODEL_NAME, "--host", "127.0.0.1", "--port", str(self.port), "--url-prefix", "/v2",
             "--engine", "torch", "--device", "cpu", "--no-model-warmup", *pinned],
            stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "HF_HUB_OFFLINE": "1", **(threads if self.pinned else {})},
        )  # fmt: skip
        return self

    def wait_ready(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            if self.proc is None or self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "Infinity did not start: " + self.log_path.read_text(encoding="utf-8")[-2000:]
                )
            time.sleep(0.3)

    def kill(self) -> None:
        """``SIGKILL``: the process dies at once, as a crashed replica does."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=20)
        self._closed()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self._closed()

    def _closed(self) -> None:
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
