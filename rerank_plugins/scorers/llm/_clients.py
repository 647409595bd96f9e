"""One adapter layer between an LLM judge and the LLM the user already has.

:func:`as_client` turns any of these into an :class:`LLMClient` with a uniform
``complete(prompt, timeout)`` / ``await acomplete(prompt, timeout)``:

- a LangChain chat model or LLM, or any LangChain ``Runnable`` that takes a string (so
  ``ChatOpenAI(...).bind(logprobs=True)`` works): ``invoke`` / ``ainvoke``;
- a LlamaIndex LLM: ``chat`` / ``achat`` for chat models, ``complete`` / ``acomplete`` otherwise;
- a plain callable ``prompt -> str`` or async callable; it gets ``timeout=`` too if it accepts it.

Frameworks are never imported here: a LangChain or LlamaIndex object can only exist if its
framework is already loaded, so detection looks in :data:`sys.modules`.

Every call gets the time left as its timeout. The async path cancels the call at the deadline; the
sync path stops waiting at the deadline (the call runs on in a daemon thread; set the client's
own timeout too, e.g. ``ChatOpenAI(timeout=...)``, to end it there). Foreign exceptions are
translated here, once: timeouts, connection errors, HTTP 429/5xx become
:class:`~rerank_plugins.TransientError`; HTTP 401/403 :class:`~rerank_plugins.AuthenticationError`;
HTTP 400/404/422 :class:`~rerank_plugins.RequestRejectedError`. Anything else (a bug in a user's
callable, say) propagates unchanged. Messages are scrubbed of anything that looks like a key.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn, cast

from rerank_plugins._checks import is_int, is_number
from rerank_plugins._deadline import run_sync, run_with_deadline
from rerank_plugins._exceptions import (
    ConfigurationError,
    ConnectionFailedError,
    MalformedResponseError,
    RerankError,
    TimedOutError,
)
from rerank_plugins._http_errors import (
    error_for_status,
    raise_translated,
    retry_after_seconds,
    scrub,
)
from rerank_plugins._optional import require

__all__ = ["Completion", "LLMClient", "as_client"]

TokenAlternatives = list[tuple[str, float]]


@dataclass(frozen=True)
class Completion:
    """What one LLM call returned, whatever the framework.

    Attributes:
        text: The reply's text.
        logprobs: Per generated token, the ``(token, logprob)`` alternatives the LLM reported
            (chosen token first), or ``None`` if it reports none.
        usage: Token counts the LLM reported (``input_tokens``, ``output_tokens``,
            ``total_tokens``), summed into the call's billed stats.
    """

    text: str
    logprobs: list[TokenAlternatives] | None = None
    usage: Mapping[str, float] = field(default_factory=dict)


class LLMClient(ABC):
    """A uniform sync and async ``complete(prompt, timeout)`` over some LLM."""

    kind: str = "llm"

    def __init__(self, who: str) -> None:
        self.who = who

    @property
    @abstractmethod
    def model(self) -> str:
        """The LLM's model name, for stats."""

    @abstractmethod
    def _call(self, prompt: str, timeout: float | None) -> Completion:
        """One blocking call, no deadline handling."""

    @abstractmethod
    async def _acall(self, prompt: str, timeout: float | None) -> Completion:
        """One async call, no deadline handling."""

    def complete(self, prompt: str, timeout: float | None) -> Completion:
        """Call the LLM; give up with a :class:`TransientError` after ``timeout`` seconds."""
        _check_time(timeout, self.who)
        try:
            if timeout is None:
                return self._call(prompt, None)
            return _run_with_deadline(lambda: self._call(prompt, timeout), timeout, self.who)
        except RerankError:
            raise
        except Exception as exc:
            _reraise(exc, self.who)

    async def acomplete(self, prompt: str, timeout: float | None) -> Completion:
        """Async twin of :meth:`complete`; the call is cancelled at the deadline."""
        _check_time(timeout, self.who)
        try:
            if timeout is None:
                return await self._acall(prompt, None)
            return await asyncio.wait_for(self._acall(prompt, timeout), timeout)
        except asyncio.TimeoutError as exc:
            raise TimedOutError(
                f"{self.who}: the LLM did not answer within {timeout:.2f}s"
            ) from exc
        except RerankError:
            raise
        except Exception as exc:
            _reraise(exc, self.who)


def _reraise(exc: Exception, who: str) -> NoReturn:
    translated = translate_error(exc, who)
    if translated is exc:
        raise exc
    raise_translated(translated, exc, None)


def _check_time(timeout: float | None, who: str) -> None:
    if timeout is not None and timeout <= 0:
        raise TimedOutError(f"{who}: no time left for another LLM call")


def _run_with_deadline(fn: Callable[[], Completion], timeout: float | None, who: str) -> Completion:
    late = f"{who}: the LLM did not answer within {timeout or 0:.2f}s"
    return run_with_deadline(fn, timeout, late)


# --- LangChain ---------------------------------------------------------------------------------


class _LangChainClient(LLMClient):
    kind = "langchain"

    def __init__(self, runnable: Any, who: str) -> None:
        super().__init__(who)
        self.runnable = runnable
        self._config = {"run_name": who, "tags": ["rerank_plugins"]}

    @property
    def model(self) -> str:
        return _model_name(self.runnable)

    def _call(self, prompt: str, timeout: float | None) -> Completion:
        return _from_langchain(self.runnable.invoke(prompt, config=self._config))

    async def _acall(self, prompt: str, timeout: float | None) -> Completion:
        return _from_langchain(await self.runnable.ainvoke(prompt, config=self._config))


def _from_langchain(result: Any) -> Completion:
    if isinstance(result, str):
        return Completion(result)
    content = getattr(result, "content", result)
    meta = getattr(result, "response_metadata", None) or {}
    usage = getattr(result, "usage_metadata", None) or {}
    return Completion(
        text=_content_text(content),
        logprobs=_openai_logprobs(meta.get("logprobs")),
        usage={k: float(v) for k, v in usage.items() if is_number(v)},
    )


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    raise MalformedResponseError(
        f"the LLM returned {type(content).__name__} where text was expected",
    )


def _openai_logprobs(data: Any) -> list[TokenAlternatives] | None:
    """OpenAI's ``{"content": [{"token", "logprob", "top_logprobs": [...]}]}`` layout."""
    if isinstance(data, Mapping):
        data = data.get("content")
    if not isinstance(data, list):
        return None
    positions: list[TokenAlternatives] = []
    for entry in data:
        if not isinstance(entry, Mapping):
            continue
        alternatives = [(str(entry.get("token", "")), float(entry.get("logprob", -math.inf)))]
        for alt in entry.get("top_logprobs") or []:
            if isinstance(alt, Mapping) and alt.get("token") != alternatives[0][0]:
                alternatives.append(
                    (str(alt.get("token", "")), float(alt.get("logprob", -math.inf)))
                )
        positions.append(alternatives)
    return positions


# --- LlamaIndex --------------------------------------------------------------------------------


class _LlamaIndexClient(LLMClient):
    kind = "llama-index"

    def __init__(self, llm: Any, who: str) -> None:
        super().__init__(who)
        self.llm = llm

    @property
    def model(self) -> str:
        metadata = getattr(self.llm, "metadata", None)
        name = getattr(metadata, "model_name", None)
        return str(name) if name and name != "unknown" else _model_name(self.llm)

    def _is_chat(self) -> bool:
        return bool(getattr(getattr(self.llm, "metadata", None), "is_chat_model", False))

    def _messages(self, prompt: str) -> list[Any]:
        llms = require("llama_index.core.llms", extra="llama-index", who=self.who)
        return [llms.ChatMessage(role="user", content=prompt)]

    def _call(self, prompt: str, timeout: float | None) -> Completion:
        if self._is_chat():
            return _from_llama_index(self.llm.chat(self._messages(prompt)))
        return _from_llama_index(self.llm.complete(prompt))

    async def _acall(self, prompt: str, timeout: float | None) -> Completion:
        if self._is_chat():
            return _from_llama_index(await self.llm.achat(self._messages(prompt)))
        return _from_llama_index(await self.llm.acomplete(prompt))


def _from_llama_index(response: Any) -> Completion:
    message = getattr(response, "message", None)
    if message is not None:
        text = getattr(message, "content", None) or ""
    else:
        text = getattr(response, "text", None) or ""
    logprobs = getattr(response, "logprobs", None)
    positions = None
    if isinstance(logprobs, list):
        positions = [
            [(str(lp.token), float(lp.logprob)) for lp in alternatives]
            for alternatives in logprobs
            if isinstance(alternatives, list)
        ]
    extra = getattr(response, "additional_kwargs", None) or {}
    usage = {
        "input_tokens": extra.get("prompt_tokens"),
        "output_tokens": extra.get("completion_tokens"),
        "total_tokens": extra.get("total_tokens"),
    }
    return Completion(
        text=str(text),
        logprobs=positions,
        usage={k: float(cast(float, v)) for k, v in usage.items() if is_number(v)},
    )


# --- plain callables ---------------------------------------------------------------------------


class _CallableClient(LLMClient):
    kind = "callable"

    def __init__(self, fn: Callable[..., Any], who: str) -> None:
        super().__init__(who)
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
        )
        self.takes_timeout = _accepts_timeout(fn)

    @property
    def model(self) -> str:
        return str(getattr(self.fn, "__name__", None) or type(self.fn).__name__)

    def _invoke(self, prompt: str, timeout: float | None) -> Any:
        return self.fn(prompt, timeout=timeout) if self.takes_timeout else self.fn(prompt)

    def _call(self, prompt: str, timeout: float | None) -> Completion:
        out = self._invoke(prompt, timeout)
        if inspect.isawaitable(out):
            out = run_sync(out)  # also inside a running loop (a notebook, an async handler)
        return _from_any(out)

    async def _acall(self, prompt: str, timeout: float | None) -> Completion:
        if self.is_async:
            return _from_any(await self._invoke(prompt, timeout))
        out = await asyncio.to_thread(self._invoke, prompt, timeout)
        if inspect.isawaitable(out):
            out = await out
        return _from_any(out)


def _accepts_timeout(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "timeout" or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _from_any(out: Any) -> Completion:
    if isinstance(out, Completion):
        return out
    if isinstance(out, str):
        return Completion(out)
    if hasattr(out, "message") or hasattr(out, "logprobs"):  # a LlamaIndex response
        return _from_llama_index(out)
    if hasattr(out, "content"):  # a LangChain message
        return _from_langchain(out)
    if hasattr(out, "text") and isinstance(out.text, str):
        return Completion(out.text)
    raise MalformedResponseError(
        f"the LLM callable returned {type(out).__name__}; return the reply as a str",
    )


# --- detection, names, errors ------------------------------------------------------------------


def as_client(llm: object, *, who: str) -> LLMClient:
    """Wrap ``llm`` (LangChain, LlamaIndex, callable, or an :class:`LLMClient`) for ``who``.

    Raises:
        ConfigurationError: ``llm`` is none of those.

    Example:
        >>> client = as_client(lambda prompt: "[1] 3", who="doc")
        >>> client.complete("Grade [1]", timeout=5.0).text
        '[1] 3'
    """
    if isinstance(llm, LLMClient):
        return llm
    runnables = sys.modules.get("langchain_core.runnables.base")
    if runnables is not None and isinstance(llm, runnables.Runnable):
        return _LangChainClient(llm, who)
    llama = sys.modules.get("llama_index.core.base.llms.base")
    if llama is not None and isinstance(llm, llama.BaseLLM):
        return _LlamaIndexClient(llm, who)
    if callable(llm) and not isinstance(llm, type):
        return _CallableClient(llm, who)
    raise ConfigurationError(
        f"{who} needs an LLM: a LangChain chat model (e.g. ChatOpenAI(...)), a LlamaIndex LLM "
        f"(e.g. OpenAI(...)), or a callable prompt -> str (sync or async); got "
        f"{type(llm).__name__} {_scrub(repr(llm))[:60]}."
    )


def _model_name(obj: Any) -> str:
    first, seen = obj, 0
    while obj is not None and seen < 4:  # unwrap RunnableBinding and friends
        for attr in ("model_name", "model", "model_id", "repo_id"):
            value = getattr(obj, attr, None)
            if isinstance(value, str) and value:
                return value
        config = getattr(getattr(getattr(obj, "pipeline", None), "model", None), "config", None)
        name = getattr(config, "_name_or_path", None)
        if isinstance(name, str) and name:
            return name
        obj, seen = getattr(obj, "bound", None), seen + 1
    llm_type = getattr(first, "_llm_type", None)
    return llm_type if isinstance(llm_type, str) and llm_type else type(first).__name__


def _scrub(text: str) -> str:
    return scrub(text)


def translate_error(exc: BaseException, who: str) -> BaseException:
    """The package's error for a foreign exception, or ``exc`` itself if it is none of ours.

    Example:
        >>> translate_error(TimeoutError("read timed out"), "doc").reason
        'timeout'
    """
    detail = _scrub(f"{type(exc).__name__}: {exc}")[:300]
    status = _status_code(exc)
    names = " ".join(cls.__name__ for cls in type(exc).__mro__).lower()
    if status is not None and status >= 400:
        wait = retry_after_seconds(getattr(getattr(exc, "response", None), "headers", None))
        return error_for_status(
            status,
            auth=f"{who}: the LLM provider rejected the credentials (HTTP {status}): {detail}. "
            f"Check the API key the LLM was built with (e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY).",
            transient=f"{who}: LLM call failed (HTTP {status}): {detail}",
            rejected=f"{who}: the LLM provider rejected the request (HTTP {status}): {detail}. "
            f"Check the model name and the LLM's options.",
            retry_after=None if wait is None or wait > 3600 else wait,
        )
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)) or "timeout" in names:
        return TimedOutError(f"{who}: LLM call timed out: {detail}")
    if isinstance(exc, ConnectionError) or "connect" in names:
        return ConnectionFailedError(f"{who}: could not reach the LLM: {detail}")
    return exc


def _status_code(exc: BaseException) -> int | None:
    for value in (
        getattr(exc, "status_code", None),
        getattr(getattr(exc, "response", None), "status_code", None),
        getattr(exc, "status", None),
    ):
        if is_int(value) and 100 <= value < 600:
            return value
    return None
