"""Nothing leaks: every hosted scorer's connections are released (issue 28, point 1).

The scorers talk through the real SDKs (``cohere``, ``voyageai``, ``httpx``) to the package's
protocol server, run in a separate process so that every socket and file descriptor counted
here is the client's own. Counted: this process's open file descriptors (``/proc/self/fd``) and
its sockets connected to the server's port (``psutil``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import socket
import subprocess
import sys
import threading
import time
import warnings

import pytest

from rerank_plugins import Reranker

psutil = pytest.importorskip("psutil")
pytest.importorskip("cohere")
pytest.importorskip("voyageai")
pytestmark = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counts file descriptors in /proc/self/fd"
)

BACKENDS = ("cohere", "voyage", "tei")
TEXTS = ["the red fox", "a cat", "red apples", "a fox in the snow"]
KEY = "rk-resources-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def port():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rerank_plugins.testing.server", "--port", str(port),
         "--api-key", KEY],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert "Serving" in proc.stdout.readline()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(autouse=True)
def no_unclosed_resources():
    """Every test: no socket or transport closed by the garbage collector instead of its owner
    (Python reports each as an "unclosed ..." ResourceWarning)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        gc.collect()
    unclosed = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not unclosed, unclosed


def scorer_for(backend: str, port: int):
    url = f"http://127.0.0.1:{port}"
    if backend == "cohere":
        from rerank_plugins.scorers.cohere import CohereScorer

        return CohereScorer(api_key=KEY, base_url=url)
    if backend == "voyage":
        from rerank_plugins.scorers.voyage import VoyageScorer

        return VoyageScorer(api_key=KEY, base_url=url + "/v1")
    from rerank_plugins.scorers.tei import TEIScorer

    return TEIScorer(api_key=KEY, base_url=url)


def sockets(port: int) -> int:
    """This process's sockets connected to the server (any state: CLOSE_WAIT still holds one)."""
    return sum(
        1 for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port
    )


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def settle(port: int, until: int = 0) -> int:
    """The socket count once closed connections are gone (the kernel drops them at once; the
    loop gives a dropped scorer's finalisers a moment)."""
    for _ in range(50):
        gc.collect()
        count = sockets(port)
        if count <= until:
            return count
        time.sleep(0.02)
    return sockets(port)


def rerank(scorer) -> None:
    assert Reranker(scorer).rerank("red fox", TEXTS).stats.scored == len(TEXTS)


async def arerank(scorer) -> None:
    result = await Reranker(scorer).arerank("red fox", TEXTS)
    assert result.stats.scored == len(TEXTS)


@pytest.mark.parametrize("backend", BACKENDS)
def test_close_and_with_release_the_sync_client(port, backend):
    scorer = scorer_for(backend, port)
    rerank(scorer)
    scorer.close()
    assert settle(port) == 0
    with scorer_for(backend, port) as scorer:
        rerank(scorer)
        rerank(scorer)  # the scorer works again after close: a new client, owned the same way
    assert settle(port) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_thirty_event_loops_of_call_aclose_call_leave_nothing_open(port, backend):
    scorer = scorer_for(backend, port)

    async def round_trip() -> None:
        await arerank(scorer)
        await scorer.aclose()
        await arerank(scorer)  # a client made after aclose() is owned and closed too

    asyncio.run(round_trip())  # the first round imports and warms what stays (SDK modules)
    assert settle(port) == 0
    before = fds()
    for _ in range(30):
        asyncio.run(round_trip())
    assert settle(port) == 0
    assert fds() <= before + 2, f"{fds() - before} file descriptors more after 30 loops"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_releaser_never_closes_the_next_client(port, backend):
    scorer = scorer_for(backend, port)

    async def main() -> int:
        await arerank(scorer)
        await scorer.aclose()
        await arerank(scorer)  # the second client of this loop
        gc.collect()  # the first client's releaser, if it were left behind, is finalised here
        for _ in range(5):
            await asyncio.sleep(0)
        open_now = sockets(port)
        await arerank(scorer)  # the second client still works, on its open connection
        assert sockets(port) == open_now
        return open_now

    open_in_loop = asyncio.run(main())
    assert open_in_loop <= 1
    assert settle(port) == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_sixteen_threads_on_a_shared_scorer_do_not_grow_descriptors(port, backend):
    scorer = scorer_for(backend, port)
    rerank(scorer)
    scorer.close()
    settle(port)
    before = fds()
    peaks = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(3):
                rerank(scorer)
        except BaseException as exc:  # reported below
            errors.append(exc)

    for _ in range(3):
        threads = [threading.Thread(target=work) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        peaks.append(fds())
    # A shared client keeps a bounded pool: at most one connection per thread calling at once,
    # however many rounds (a client per call, the defect, added 30 after one round). How many of
    # the 16 overlap depends on the machine's load, so the bound is the thread count, not round 1.
    assert peaks[-1] <= before + 16 + 4, f"descriptors grew past the pool: {before} -> {peaks}"
    scorer.close()
    assert settle(port) == 0
    assert fds() <= before + 2, f"{fds() - before} file descriptors more after close()"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dropped_scorer_leaves_no_unclosed_socket(port, backend):
    scorer = scorer_for(backend, port)
    rerank(scorer)
    asyncio.run(arerank(scorer))
    asyncio.run(arerank(scorer))
    del scorer
    assert settle(port) == 0  # and the fixture checks that none was closed by the collector
