"""The LLM judge, kept importable here; it lives in :mod:`rerank_plugins.scorers.llm.judge`."""

from rerank_plugins.scorers.llm.judge import (
    LISTWISE_PROMPT,
    POINTWISE_PROMPT,
    YES_NO_PROMPT,
    LLMJudgeScorer,
    escape_data,
    sliding_windows,
)

__all__ = [
    "LISTWISE_PROMPT",
    "POINTWISE_PROMPT",
    "YES_NO_PROMPT",
    "LLMJudgeScorer",
    "escape_data",
    "sliding_windows",
]
