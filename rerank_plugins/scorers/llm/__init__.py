"""Judging relevance with an LLM: the scorer, the adapters of LLM frameworks, the reply parsers.

:class:`LLMJudgeScorer` asks an LLM (a LangChain chat model, a LlamaIndex LLM or a plain
callable, wrapped by :func:`as_client`) to grade passages or to order them; the pure parsers of
:mod:`rerank_plugins.scorers.llm.parsing` read its replies.
"""

from rerank_plugins.scorers.llm._clients import Completion, LLMClient, as_client, translate_error
from rerank_plugins.scorers.llm.judge import LLMJudgeScorer
from rerank_plugins.scorers.llm.prompts import (
    LISTWISE_PROMPT,
    POINTWISE_PROMPT,
    YES_NO_PROMPT,
)

__all__ = [
    "LISTWISE_PROMPT",
    "POINTWISE_PROMPT",
    "YES_NO_PROMPT",
    "Completion",
    "LLMClient",
    "LLMJudgeScorer",
    "as_client",
    "translate_error",
]
