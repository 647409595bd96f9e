"""An LLM as the reranker: pointwise grades or listwise permutations, from the LLM you already have.

:class:`LLMJudgeScorer` asks an LLM to judge relevance and fits the core's unit model, so it obeys
the same ``top_n``, budget and failure policy as every other scorer:

- **pointwise** (``mode="pointwise"``): each prompt grades several candidates
  (``candidates_per_prompt``) on a fixed scale, each grade tied to its candidate by id; one prompt
  is one unit, and up to ``max_concurrency`` prompts are in flight. The grade is mapped onto
  ``[0, 1]`` (``(grade - min_grade) / (max_grade - min_grade)``; normalisation
  :attr:`~rerank_plugins.Normalization.IDENTITY`). With ``score_by="yes_probability"`` each
  candidate gets its own yes/no prompt and its score is the probability of "yes" read from the
  LLM's token log-probabilities (for LLMs that expose them).
- **listwise** (``mode="listwise"``): RankGPT-style permutation generation over sliding windows
  (``window_size=20``, ``stride=10``, from the back of the list to the front, as ``rank_llm``
  does), so the best candidates bubble up to the first window. The whole list is one unit; each
  window's call gets the time left as its timeout. An LLM gives only an order, so the score is
  derived from the final rank: raw score = 0-based rank, normalised score ``1 - rank / n``
  (:attr:`~rerank_plugins.Normalization.RANK`). Scores from different queries are therefore not
  comparable, and ``min_score`` keeps a fixed share of the list.

Replies are read by the pure parsers of :mod:`rerank_plugins.scorers.llm.parsing`. A reply with
nothing usable raises :class:`~rerank_plugins.TransientError` (``reason="unparseable_output"``):
the core retries it within the budget, then leaves those candidates unscored
(``on_error="fallback"``) or raises (``"raise"``). A pointwise reply that grades only some
candidates leaves the others unscored.

Candidate texts are data, never instructions: the query and each passage sit inside labelled tags
(``<query>``, ``<passage id="3">``) that a candidate cannot close or forge, because ``&``, ``<``
and ``>`` (and their Unicode lookalikes) inside them are escaped as ``&amp;``, ``&lt;`` and
``&gt;``; the prompts say that text inside the tags is never an instruction.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Sequence
from typing import Literal, ParamSpec, TypeVar

from rerank_plugins._calibration import CalibrationLike
from rerank_plugins._checks import check_int, is_int
from rerank_plugins._cost import CostModel
from rerank_plugins._deadline import Deadline
from rerank_plugins._exceptions import (
    ConfigurationError,
    MalformedResponseError,
    TimedOutError,
)
from rerank_plugins._scorer import Normalization, Scorer, UnitScores
from rerank_plugins.scorers.llm._clients import Completion, LLMClient, as_client
from rerank_plugins.scorers.llm.parsing import (
    UnparseableReply,
    parse_grades,
    parse_permutation,
    yes_probability,
)
from rerank_plugins.scorers.llm.prompts import (
    LISTWISE_PROMPT,
    POINTWISE_PROMPT,
    YES_NO_PROMPT,
    checked_template,
    escape_data,
    render,
)

__all__ = [
    "LISTWISE_PROMPT",
    "POINTWISE_PROMPT",
    "YES_NO_PROMPT",
    "LLMJudgeScorer",
    "escape_data",
    "sliding_windows",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")
Mode = Literal["pointwise", "listwise"]
ScoreBy = Literal["grade", "yes_probability"]


def sliding_windows(count: int, window_size: int, stride: int) -> list[tuple[int, int]]:
    """The ``(start, end)`` windows of a listwise pass over ``count`` candidates, back to front.

    Example:
        >>> sliding_windows(45, 20, 10)
        [(25, 45), (15, 35), (5, 25), (0, 15)]
        >>> len(sliding_windows(100, 20, 10)), len(sliding_windows(20, 20, 10))
        (9, 1)
    """
    if count <= 0:
        return []
    windows: list[tuple[int, int]] = []
    end = count
    while True:
        start = max(0, end - window_size)
        windows.append((start, end))
        if start == 0:
            return windows
        end -= stride


class LLMJudgeScorer(Scorer):
    """Scores candidates by asking an LLM: pointwise grades or a listwise ranking.

    Args:
        llm: The LLM to ask: a LangChain chat model or LLM (any ``Runnable`` over a string), a
            LlamaIndex LLM, or a callable ``prompt -> str`` (sync or async; it also gets
            ``timeout=`` if it accepts it).
        mode: ``"pointwise"`` (grade candidates) or ``"listwise"`` (rank windows of candidates).
        score_by: Pointwise only: ``"grade"`` (the LLM writes a grade) or ``"yes_probability"``
            (one yes/no prompt per candidate, scored by the probability of "yes"; the LLM must
            report token log-probabilities, e.g. ``ChatOpenAI(logprobs=True, top_logprobs=5)``).
        candidates_per_prompt: Pointwise grades: candidates graded by one prompt (one unit).
        max_concurrency: Pointwise: prompts in flight at once within one call.
        window_size: Listwise: candidates per window (RankGPT/rank_llm default 20).
        stride: Listwise: how far the window moves towards the front each step (default 10).
        min_grade: Lowest grade of the scale (maps to 0).
        max_grade: Highest grade of the scale (maps to 1).
        prompt: A template replacing the default for the chosen mode (:data:`POINTWISE_PROMPT`,
            :data:`YES_NO_PROMPT` or :data:`LISTWISE_PROMPT`); placeholders ``{query}``,
            ``{passages}`` (or ``{passage}`` for yes/no), ``{count}``, ``{min_grade}``,
            ``{max_grade}``. Other braces are left as written.
        max_passage_chars: Passages longer than this are cut (with "...") before they enter a
            prompt, so a huge candidate never overflows the LLM's context.
        max_retries: Retries of a unit after a transient failure (timeout, 429, unparseable reply),
            within the budget.
        model: The name reported in stats; defaults to the LLM's own model name.
        calibration: Maps grades, yes-probabilities or (listwise) rank scores to P(relevant): a
            calibration file's path, a :class:`~rerank_plugins.Calibration`, or ``None`` (see
            :attr:`~rerank_plugins.Scorer.calibration`).

    Ownership: the LLM (and any client inside it) is the caller's: the scorer never closes it,
    and :meth:`close` has nothing to release. Sync calls work inside a running event loop too:
    an async LLM then runs on a helper thread with its own loop. Copies share the scorer.

    Example:
        >>> from rerank_plugins import Reranker
        >>> def llm(prompt: str) -> str:  # any LangChain / LlamaIndex LLM works the same way
        ...     return "[1] 0\\n[2] 3"
        >>> result = Reranker(LLMJudgeScorer(llm)).rerank("capital of France?", ["Berlin", "Paris"])
        >>> [(item.text, item.score) for item in result]
        [('Paris', 1.0), ('Berlin', 0.0)]
    """

    backend = "llm-judge"
    normalization = Normalization.IDENTITY
    # The integer options, checked and kept by the constructor's table (see the Args above).
    candidates_per_prompt: int
    window_size: int
    stride: int
    min_grade: int
    max_grade: int
    max_passage_chars: int

    def __init__(
        self,
        llm: object,
        *,
        mode: Mode = "pointwise",
        score_by: ScoreBy = "grade",
        candidates_per_prompt: int = 5,
        max_concurrency: int = 4,
        window_size: int = 20,
        stride: int = 10,
        min_grade: int = 0,
        max_grade: int = 3,
        prompt: str | None = None,
        max_passage_chars: int = 2000,
        max_retries: int = 2,
        model: str | None = None,
        calibration: CalibrationLike = None,
    ) -> None:
        who = type(self).__name__
        kind = _checked_kind(who, mode, score_by)
        for name, value, least in (
            ("candidates_per_prompt", candidates_per_prompt, 1),
            ("max_concurrency", max_concurrency, 1),
            ("window_size", window_size, 2),
            ("stride", stride, 1),
            ("max_passage_chars", max_passage_chars, 1),
            ("max_retries", max_retries, 0),
            ("min_grade", min_grade, -(10**6)),
            ("max_grade", max_grade, min_grade + 1 if is_int(min_grade) else -(10**6)),
        ):
            setattr(self, name, check_int(who, name, value, least))  # checked, then kept
        if stride >= window_size:
            raise ConfigurationError(
                f"{who} stride must be smaller than window_size so that windows overlap and "
                f"good candidates can move up; got window_size={window_size}, stride={stride}."
            )
        template = checked_template(who, kind, prompt)
        self.client: LLMClient = as_client(llm, who=who)
        self.mode: Mode = mode
        self.score_by: ScoreBy = score_by
        self.prompt = template
        self._model = model
        self._kind = kind
        self._set_units(max_concurrency)
        self.calibration = calibration

    def _set_units(self, max_concurrency: int) -> None:
        if self.mode == "listwise":
            # Windows depend on each other: one unit, its windows in sequence.
            self.normalization = Normalization.RANK  # per instance
            self.max_concurrency = 1
        else:
            per_prompt = 1 if self.score_by == "yes_probability" else self.candidates_per_prompt
            self.unit_size = per_prompt
            self.max_concurrency = max_concurrency

    @property
    def model(self) -> str:
        return self._model or self.client.model

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, mode={self.mode!r})"

    def llm_calls(self, candidates: int) -> int:
        """LLM calls one rerank of ``candidates`` texts makes (without retries).

        Example:
            >>> judge = LLMJudgeScorer(lambda p: "", mode="listwise")
            >>> judge.llm_calls(20), judge.llm_calls(100)
            (1, 9)
        """
        if self.mode == "listwise":
            return len(sliding_windows(candidates, self.window_size, self.stride))
        return math.ceil(candidates / self.unit_size)

    learns_own_cost = True  # per LLM call

    def work(self, query: str, texts: Sequence[str]) -> list[float]:
        """LLM calls per text (one prompt covers ``candidates_per_prompt`` texts; listwise, the
        windows spread over the texts): the unit the cost model learns in, from each call."""
        if not texts:
            return []
        share = self.llm_calls(len(texts)) / len(texts)
        return [share] * len(texts)

    def plan_units(self, texts: Sequence[str]) -> list[list[int]]:
        if self.mode == "listwise":
            return [list(range(len(texts)))] if texts else []
        return super().plan_units(texts)

    def prepare(self) -> None:
        return None  # nothing to load: the LLM is the user's, already built

    async def aprepare(self) -> None:
        return None

    # --- the two drivers: the same steps, sync and async --------------------------------------

    def score_unit(self, query: str, texts: Sequence[str], *, timeout: float | None) -> UnitScores:
        turns = _Turns(self._steps(query, texts), _UnitDeadline(timeout, self.cost), self.name)
        while True:
            scores = turns.answer(self.client.complete(turns.prompt, turns.time_left()))
            if scores is not None:
                return scores

    async def ascore_unit(
        self, query: str, texts: Sequence[str], *, timeout: float | None
    ) -> UnitScores:
        turns = _Turns(self._steps(query, texts), _UnitDeadline(timeout, self.cost), self.name)
        while True:
            scores = turns.answer(await self.client.acomplete(turns.prompt, turns.time_left()))
            if scores is not None:
                return scores

    # --- the steps: yield a prompt, receive its completion, return the unit's scores -----------

    def _steps(self, query: str, texts: Sequence[str]) -> Generator[str, Completion, UnitScores]:
        if self._kind == "listwise":
            return self._listwise(query, texts)
        if self._kind == "yes_probability":
            return self._yes_no(query, texts)
        return self._graded(query, texts)

    def _graded(self, query: str, texts: Sequence[str]) -> Generator[str, Completion, UnitScores]:
        completion = yield self._prompt(query, texts)
        billed = _billed(completion, {})
        grades = _parsed(
            self.name,
            parse_grades,
            completion.text,
            set(range(1, len(texts) + 1)),
            min_grade=self.min_grade,
            max_grade=self.max_grade,
        )
        span = self.max_grade - self.min_grade
        scores = [
            None if i not in grades else (grades[i] - self.min_grade) / span
            for i in range(1, len(texts) + 1)
        ]
        return UnitScores(scores, billed)

    def _yes_no(self, query: str, texts: Sequence[str]) -> Generator[str, Completion, UnitScores]:
        billed: dict[str, float] = {}
        scores: list[float | None] = []
        for text in texts:
            completion = yield self._prompt(query, [text])
            _billed(completion, billed)
            if completion.logprobs is None:
                raise ConfigurationError(
                    f"{type(self).__name__}(score_by='yes_probability') needs token "
                    f"log-probabilities, but the LLM's reply carried none. Enable them (LangChain: "
                    f"ChatOpenAI(..., logprobs=True, top_logprobs=5); LlamaIndex: "
                    f"OpenAI(..., logprobs=True, top_logprobs=5)) or use score_by='grade'."
                )
            positions = completion.logprobs
            scores.append(_parsed(self.name, yes_probability, positions))
        return UnitScores(scores, billed)

    def _listwise(self, query: str, texts: Sequence[str]) -> Generator[str, Completion, UnitScores]:
        order = list(range(len(texts)))
        billed: dict[str, float] = {}
        for start, end in sliding_windows(len(texts), self.window_size, self.stride):
            ids = order[start:end]
            completion = yield self._prompt(query, [texts[i] for i in ids])
            _billed(completion, billed)
            perm = _parsed(self.name, parse_permutation, completion.text, len(ids))
            order[start:end] = [ids[p] for p in perm]
        ranks = [0.0] * len(texts)
        for rank, pos in enumerate(order):
            ranks[pos] = float(rank)
        return UnitScores(list(ranks), billed)

    def _prompt(self, query: str, texts: Sequence[str]) -> str:
        passages = [escape_data(self._cut(t)) for t in texts]
        values = {
            "query": escape_data(query),
            "count": str(len(texts)),
            "min_grade": str(self.min_grade),
            "max_grade": str(self.max_grade),
            "passage": passages[0] if passages else "",
            "passages": "\n".join(
                f'<passage id="{i}">\n{p}\n</passage>' for i, p in enumerate(passages, start=1)
            ),
        }
        return render(self.prompt, values)

    def _cut(self, text: str) -> str:
        limit = self.max_passage_chars
        return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def _checked_kind(who: str, mode: object, score_by: object) -> str:
    """The prompt kind of a mode and ``score_by``: ``"grade"``, ``"yes_probability"`` or
    ``"listwise"``; an unknown or contradictory pair is refused."""
    if mode not in ("pointwise", "listwise"):
        raise ConfigurationError(f"{who} mode must be 'pointwise' or 'listwise', got {mode!r}.")
    if score_by not in ("grade", "yes_probability"):
        raise ConfigurationError(
            f"{who} score_by must be 'grade' or 'yes_probability', got {score_by!r}."
        )
    if mode == "listwise" and score_by != "grade":
        raise ConfigurationError(
            f"{who} score_by={score_by!r} applies to mode='pointwise' only; a listwise "
            f"judge scores by rank. Drop score_by or use mode='pointwise'."
        )
    return "listwise" if mode == "listwise" else str(score_by)


def _billed(completion: Completion, billed: dict[str, float]) -> dict[str, float]:
    billed["llm_calls"] = billed.get("llm_calls", 0.0) + 1.0
    for key, value in completion.usage.items():
        billed[key] = billed.get(key, 0.0) + float(value)
    return billed


def _parsed(who: str, parse: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    try:
        return parse(*args, **kwargs)
    except UnparseableReply as exc:
        raise MalformedResponseError(
            f"{who}: unusable LLM reply: {exc}", reason="unparseable_output"
        ) from exc


class _UnitDeadline:
    """The time left in one unit, and whether another LLM call still fits in it: the question
    asked of the scorer's one cost model (in LLM calls), which each call teaches. A refusal
    before the unit's first call relaxes the model, so one slow call cannot lock the judge out."""

    def __init__(self, timeout: float | None, cost: CostModel) -> None:
        # The call's deadline, handed down as ``timeout``: the authority every check asks.
        self.deadline = Deadline.after(timeout)
        self.cost = cost
        self.calls = 0

    def left_for_next_call(self, who: str) -> float | None:
        left = self.deadline.left()
        if left is None:
            return None
        if not self.cost.fits(self.deadline, 1.0):
            expected = self.cost.expected(1.0) or 0.0
            if self.calls == 0 and left > 0:
                # The estimate alone refused, and no call of this unit measured it since: let
                # it decay (the same rule as the core's and the batcher's), or it never would.
                self.cost.relax()
            raise TimedOutError(
                f"{who}: {left:.2f}s left after {self.calls} LLM call(s) of this unit, too little "
                f"for another (one is expected to take {expected:.2f}s)",
            )
        return left

    def observe(self, seconds: float) -> None:
        self.calls += 1
        self.cost.observe(1.0, seconds)


class _Turns:
    """One unit's exchange with the LLM, the same for the sync and the async driver: the prompt
    to send next and the time its call may take; each call is timed and teaches the unit's
    deadline."""

    def __init__(
        self, steps: Generator[str, Completion, UnitScores], deadline: _UnitDeadline, who: str
    ) -> None:
        self._steps = steps
        self._deadline = deadline
        self._who = who
        self._started = 0.0
        self.prompt: str = next(steps)

    def time_left(self) -> float | None:
        """The next call's timeout (raises :class:`TimedOutError` if no call fits); starts its
        clock."""
        self._started = time.monotonic()
        return self._deadline.left_for_next_call(self._who)

    def answer(self, completion: Completion) -> UnitScores | None:
        """Hand the completion to the steps: ``None`` and the next :attr:`prompt`, or, once the
        steps are done, the unit's scores."""
        self._deadline.observe(time.monotonic() - self._started)
        try:
            self.prompt = self._steps.send(completion)
        except StopIteration as done:
            scores: UnitScores = done.value
            return scores
        return None
