"""A blocking call that cannot outrun its deadline.

HTTP clients and LLM SDKs take a timeout per read, not per request: a server that sends its body
a byte at a time keeps every read short and the request alive long past the caller's budget. The
sync paths therefore run such a call on a worker thread and wait for it at most until the
deadline; a late call is abandoned (its own timeout ends it soon after, and its result is
dropped) and the caller gets a :class:`~rerank_plugins.TimedOutError` on time. Async paths do not
need this: ``asyncio.wait_for`` cancels the request itself.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from rerank_plugins._exceptions import TimedOutError

__all__ = ["run_with_deadline"]

T = TypeVar("T")


def run_with_deadline(fn: Callable[[], T], timeout: float | None, late: str) -> T:
    """``fn()``, or :class:`TimedOutError` with message ``late`` once ``timeout`` seconds pass.

    The caller's context variables (LangChain run trees, LlamaIndex spans, OpenTelemetry) go
    with the call. ``timeout=None`` runs ``fn`` in the caller's thread.

    >>> run_with_deadline(lambda: 42, 1.0, "too slow")
    42
    """
    if timeout is None:
        return fn()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread below
            box["error"] = exc

    context = contextvars.copy_context()
    worker = threading.Thread(
        target=context.run, args=(target,), name="rerank-plugins-deadline", daemon=True
    )
    worker.start()
    worker.join(max(0.0, timeout))
    if worker.is_alive():
        raise TimedOutError(late)
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value
