"""A deterministic scorer for tests and demos: no model, no network, same answer every time.

:class:`KeywordScorer` scores a text by the share of the query's words it contains. Its knobs
(``delay_s``, ``fail_first``, ``fail_always``, ``config_error``) let a test exercise the budget,
retries, fallback and configuration errors through the real core and adapters. It counts the
units it was asked to score, so a test can assert that no scoring happened.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from typing import cast

from rerank_plugins._calibration import CalibrationLike
from rerank_plugins._checks import check_bool, check_int, check_number
from rerank_plugins._exceptions import ConfigurationError, TransientError
from rerank_plugins._scorer import Normalization, Scorer, UnitScores

__all__ = ["KeywordScorer"]

_WORD = re.compile(r"\w+")


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


class KeywordScorer(Scorer):
    """Relevance = share of the query's words found in the text, in ``[0, 1]``.

    Args:
        unit_size: Texts per unit.
        delay_s: Seconds each unit sleeps (to exercise ``budget_ms``).
        fail_first: The first ``fail_first`` units raise :class:`TransientError` (then succeed).
        fail_always: Every unit raises :class:`TransientError`.
        config_error: Every unit raises :class:`ConfigurationError` (like a rejected API key).
        max_retries: Retries after a transient failure.

    Raises:
        ConfigurationError: a knob of the wrong type or out of range (the message names it).

    Example:
        >>> KeywordScorer().score_unit("red apple", ["a red car", "red apple"], timeout=None).scores
        [0.5, 1.0]
    """

    backend = "keyword"
    normalization = Normalization.IDENTITY

    def __init__(
        self,
        *,
        unit_size: int = 4,
        delay_s: float = 0.0,
        fail_first: int = 0,
        fail_always: bool = False,
        config_error: bool = False,
        max_retries: int = 2,
        calibration: CalibrationLike = None,
    ) -> None:
        who = "KeywordScorer"
        self.unit_size = cast(int, check_int(who, "unit_size", unit_size))
        self.delay_s = cast(float, check_number(who, "delay_s", delay_s, minimum=0.0))
        self.fail_first = cast(int, check_int(who, "fail_first", fail_first, 0))
        self.fail_always = check_bool(who, "fail_always", fail_always)
        self.config_error = check_bool(who, "config_error", config_error)
        self.max_retries = cast(int, check_int(who, "max_retries", max_retries, 0))
        self._lock = threading.Lock()
        self.calls = 0
        """Units this scorer was asked to score, failed ones included."""
        self.calibration = calibration

    @property
    def model(self) -> str:
        return "word-overlap"

    def _begin(self) -> None:
        with self._lock:
            self.calls += 1
            call = self.calls
        if self.config_error:
            raise ConfigurationError(
                "KeywordScorer was built with config_error=True; build it without to score."
            )
        if self.fail_always or call <= self.fail_first:
            raise TransientError(f"scripted transient failure #{call}", reason="http_503")

    @staticmethod
    def _score(query: str, texts: Sequence[str]) -> UnitScores:
        wanted = _words(query)
        return UnitScores([len(wanted & _words(t)) / max(len(wanted), 1) for t in texts])

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        self._begin()
        if self.delay_s:
            time.sleep(self.delay_s)
        return self._score(query, texts)

    async def ascore_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores:
        self._begin()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        return self._score(query, texts)
