"""Shared by the LangChain examples: a callback handler that keeps each rerank call's stats."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from rerank_plugins.langchain import STATS_EVENT


class StatsPrinter(BaseCallbackHandler):
    """Receives each rerank call's stats as a LangChain custom event."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, **kwargs: Any) -> None:
        if name == STATS_EVENT:
            self.seen.append(data)
