"""The LLM judge, kept importable here; it lives in :mod:`rerank_plugins.scorers.llm.judge`."""

from rerank_plugins.scorers.llm.judge import *  # noqa: F403 (every public name of the judge)
from rerank_plugins.scorers.llm.judge import __all__ as __all__
