"""Scripted fake LLMs for the LLM judge's tests: real LangChain and LlamaIndex classes, no model.

:class:`Script` answers a judge's prompt the way a perfect lexical judge would (grades, rankings
or yes/no log-probabilities by the share of the query's words a passage contains), or replays
canned replies, or fails; it counts calls and the most calls in flight at once, and records every
prompt and timeout. :class:`ScriptedChatModel` (a LangChain ``BaseChatModel``) and
:func:`scripted_llama_index_llm` (a LlamaIndex ``CustomLLM``) put it behind each framework's API.
"""

from __future__ import annotations

import asyncio
import html
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    LogProb,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import ConfigDict, PrivateAttr

_WORD = re.compile(r"\w+")
_QUERY = re.compile(r"<query>\n(.*?)\n</query>", re.S)
_PASSAGE = re.compile(r'<passage id="(\d+)">\n(.*?)\n</passage>', re.S)
_SINGLE = re.compile(r"<passage>\n(.*?)\n</passage>", re.S)


def overlap(query: str, text: str) -> float:
    """Share of the query's words found in the text (the fakes' notion of relevance)."""
    wanted = {w.lower() for w in _WORD.findall(query)}
    have = {w.lower() for w in _WORD.findall(text)}
    return len(wanted & have) / max(len(wanted), 1)


def read_prompt(prompt: str) -> tuple[str, list[tuple[int, str]]]:
    """The query and the ``(id, text)`` passages of a judge prompt (unescaped)."""
    query = html.unescape(_QUERY.findall(prompt)[-1])
    passages = [(int(i), html.unescape(t)) for i, t in _PASSAGE.findall(prompt)]
    if not passages:
        passages = [(1, html.unescape(t)) for t in _SINGLE.findall(prompt)[-1:]]
    return query, passages


def judge(prompt: str) -> tuple[str, list[list[tuple[str, float]]] | None]:
    """A perfect lexical judge's reply to a judge prompt, and its log-probabilities."""
    query, passages = read_prompt(prompt)
    if "yes or no" in prompt:
        p_yes = 0.05 + 0.9 * overlap(query, passages[0][1])
        alternatives = [(" yes", math.log(p_yes)), (" no", math.log(1 - p_yes))]
        alternatives.sort(key=lambda a: -a[1])
        return alternatives[0][0].strip(), [alternatives]
    if "most relevant first" in prompt:
        ranked = sorted(passages, key=lambda p: -overlap(query, p[1]))  # stable: ties keep order
        return " > ".join(f"[{i}]" for i, _ in ranked), None
    lines = [f"[{i}] {round(3 * overlap(query, t))}" for i, t in passages]
    return "\n".join(lines), None


class Script:
    """What a fake LLM answers, and what it saw.

    Args:
        replies: Canned replies, one per call (the last one repeats); ``None`` judges each prompt.
        delay: Seconds each call takes.
        error: Raised by every call instead of answering.
        logprobs: Whether replies carry log-probabilities (only the judged yes/no ones have any).
    """

    def __init__(
        self,
        replies: Sequence[str] | None = None,
        *,
        delay: float = 0.0,
        error: Callable[[], BaseException] | None = None,
        logprobs: bool = True,
    ) -> None:
        self.replies = list(replies) if replies is not None else None
        self.delay = delay
        self.error = error
        self.logprobs = logprobs
        self.calls = 0
        self.prompts: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    def _enter(self, prompt: str) -> int:
        with self._lock:
            self.calls += 1
            self.prompts.append(prompt)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.calls

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _answer(self, call: int, prompt: str) -> tuple[str, list[list[tuple[str, float]]] | None]:
        if self.error is not None:
            raise self.error()
        if self.replies is not None:
            return self.replies[min(call, len(self.replies)) - 1], None
        text, logprobs = judge(prompt)
        return text, logprobs if self.logprobs else None

    def answer(self, prompt: str) -> tuple[str, list[list[tuple[str, float]]] | None]:
        call = self._enter(prompt)
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(call, prompt)
        finally:
            self._leave()

    async def aanswer(self, prompt: str) -> tuple[str, list[list[tuple[str, float]]] | None]:
        call = self._enter(prompt)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            return self._answer(call, prompt)
        finally:
            self._leave()


def _message(text: str, logprobs: list[list[tuple[str, float]]] | None) -> AIMessage:
    meta: dict[str, Any] = {}
    if logprobs is not None:  # OpenAI's layout, as ChatOpenAI(logprobs=True) reports it
        meta["logprobs"] = {
            "content": [
                {
                    "token": alts[0][0],
                    "logprob": alts[0][1],
                    "top_logprobs": [{"token": t, "logprob": lp} for t, lp in alts],
                }
                for alts in logprobs
            ]
        }
    usage = {"input_tokens": 100, "output_tokens": 10, "total_tokens": 110}
    return AIMessage(content=text, response_metadata=meta, usage_metadata=usage)


class ScriptedChatModel(BaseChatModel):
    """A LangChain chat model that answers from a :class:`Script`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    script: Script
    model_name: str = "scripted-judge"

    @property
    def _llm_type(self) -> str:
        return "scripted-judge"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        text, logprobs = self.script.answer(str(messages[-1].content))
        return ChatResult(generations=[ChatGeneration(message=_message(text, logprobs))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        text, logprobs = await self.script.aanswer(str(messages[-1].content))
        return ChatResult(generations=[ChatGeneration(message=_message(text, logprobs))])


class ScriptedLlamaLLM(CustomLLM):
    """A LlamaIndex LLM that answers from a :class:`Script`."""

    _script: Script = PrivateAttr()

    def __init__(self, script: Script, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._script = script

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="scripted-judge", is_chat_model=False)

    @staticmethod
    def _response(text: str, logprobs: list[list[tuple[str, float]]] | None) -> CompletionResponse:
        converted = None
        if logprobs is not None:
            converted = [[LogProb(token=t, logprob=lp, bytes=[]) for t, lp in a] for a in logprobs]
        extra = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
        return CompletionResponse(text=text, logprobs=converted, additional_kwargs=extra)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return self._response(*self._script.answer(prompt))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return self._response(*await self._script.aanswer(prompt))

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        yield self.complete(prompt, formatted, **kwargs)


def langchain_llm(script: Script) -> ScriptedChatModel:
    return ScriptedChatModel(script=script)


def llama_index_llm(script: Script) -> ScriptedLlamaLLM:
    return ScriptedLlamaLLM(script)
