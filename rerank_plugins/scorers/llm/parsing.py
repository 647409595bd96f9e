"""Pure functions that read an LLM judge's reply: no I/O, no model, no framework.

An LLM's reply is untrusted text. It may wrap its answer in prose, Markdown code fences or a
``<think>`` reasoning block; repeat an id, invent one, or leave one out; write digits as
fullwidth (U+FF13), Arabic-Indic (U+0663) or the letter lookalikes ``O`` and ``l``; grade outside
the scale. These functions keep what is usable and say when nothing is:

- :func:`clean_reply` removes reasoning blocks and code fences and maps lookalike digits to ASCII;
- :func:`parse_permutation` reads a listwise ranking (``[2] > [1] > [3]``) into a complete
  permutation: duplicates and unknown ids dropped, missing ids appended in their prior order;
- :func:`parse_grades` reads pointwise grades, each tied to its candidate by *id*, never by line
  position;
- :func:`yes_probability` turns token log-probabilities into the probability of a "yes".

A reply with nothing usable raises :class:`UnparseableReply`; the scorer turns it into a
:class:`~rerank_plugins.TransientError` with ``reason="unparseable_output"``.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Collection, Iterable, Sequence

__all__ = [
    "UnparseableReply",
    "clean_reply",
    "complete_permutation",
    "extract_ids",
    "parse_grades",
    "parse_permutation",
    "yes_probability",
]


class UnparseableReply(ValueError):
    """The reply holds nothing usable (no valid id, no grade on the scale, no yes/no token)."""


# --- cleaning ----------------------------------------------------------------------------------

_REASONING_TAGS = "think|thinking|reasoning|reflection"
_REASONING_BLOCK = re.compile(rf"<\s*({_REASONING_TAGS})\s*>.*?<\s*/\s*\1\s*>", re.I | re.S)
_REASONING_CLOSE = re.compile(rf"<\s*/\s*(?:{_REASONING_TAGS})\s*>", re.I)
_REASONING_OPEN = re.compile(rf"<\s*(?:{_REASONING_TAGS})\s*>", re.I)
_FENCE = re.compile(r"```[A-Za-z0-9_+-]*|~~~[A-Za-z0-9_+-]*")
# A word made of digits and the letter lookalikes O/o (zero) and l/I/| (one), with at least one
# real digit ("1O" -> "10", "l2" -> "12"), or a bracketed lookalike id ("[l]" -> "[1]").
_LOOKALIKE_NUMBER = re.compile(r"(?<![\w.])[0-9OolI]*[0-9][0-9OolI]*(?![\w])")
_LOOKALIKE_BRACKETED = re.compile(r"\[\s*([OolI|]+)\s*\]")
_LOOKALIKE_MAP = str.maketrans({"O": "0", "o": "0", "l": "1", "I": "1", "|": "1"})


def clean_reply(reply: str) -> str:
    """Reduce a reply to the text worth parsing.

    Removes ``<think>``/``<thinking>``/``<reasoning>`` blocks (an unclosed opening tag drops the
    rest; a lone closing tag drops what precedes it, as when a chat template opened the block),
    Markdown code fences, and maps every Unicode decimal digit (fullwidth, Arabic-Indic,
    Devanagari...) and fullwidth punctuation to ASCII, then the letter lookalikes ``O``/``l``/``I``
    inside numbers and bracketed ids.

    Example:
        >>> clean_reply("<think>hmm</think>```\\n[\\uff12] > [l] > [1O]\\n```")
        '[2] > [1] > [10]'
    """
    text = _REASONING_BLOCK.sub(" ", reply)
    closes = list(_REASONING_CLOSE.finditer(text))
    if closes:
        text = text[closes[-1].end() :]
    opened = _REASONING_OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    text = _FENCE.sub("", text)
    text = "".join(_ascii_digit(ch) for ch in unicodedata.normalize("NFKC", text))
    text = _LOOKALIKE_BRACKETED.sub(
        lambda m: "[" + m.group(1).translate(_LOOKALIKE_MAP) + "]", text
    )
    text = _LOOKALIKE_NUMBER.sub(lambda m: m.group(0).translate(_LOOKALIKE_MAP), text)
    return text.strip()


def _ascii_digit(ch: str) -> str:
    if ch.isdigit() and not ch.isascii():
        value = unicodedata.decimal(ch, None)
        if value is not None:
            return str(value)
    return ch


# --- listwise ----------------------------------------------------------------------------------

_BRACKETED_ID = re.compile(r"\[\s*(\d+)\s*\]")
_ID_TOKEN = r"(?:(?:passage|candidate|document|doc|id)\s*#?\s*|#|\()?\s*(\d+)\s*\)?"
_SEPARATOR = r"\s*(?:>>|->|=>|→|>|,|;|\n)\s*"
_CHAIN = re.compile(rf"{_ID_TOKEN}(?:{_SEPARATOR}{_ID_TOKEN})+", re.I)
_LONE_ID = re.compile(rf"^\s*{_ID_TOKEN}\s*\.?\s*$", re.I)
_DIGITS = re.compile(r"\d+")


def extract_ids(reply: str) -> list[int]:
    """The ids a ranking reply names, in the order it names them (raw: may repeat or be invalid).

    Bracketed ids (``[3]``) win when the reply has any; otherwise the longest chain of ids joined
    by ``>``, ``,``, ``;``, ``->`` or line breaks (``3 > 1 > 2``, ``Passage 3, Passage 1``);
    otherwise a reply that is a single id. Numbers in prose are never taken for ids.

    Example:
        >>> extract_ids("Sure! Here is the ranking of 3 passages: [2] > [3] > [2] > [9]")
        [2, 3, 2, 9]
        >>> extract_ids("2 > 1 > 3")
        [2, 1, 3]
    """
    text = clean_reply(reply)
    bracketed = [int(m) for m in _BRACKETED_ID.findall(text)]
    if bracketed:
        return bracketed
    chains = [m.group(0) for m in _CHAIN.finditer(text)]
    if chains:
        longest = max(chains, key=lambda c: len(_DIGITS.findall(c)))
        return [int(d) for d in _DIGITS.findall(longest)]
    lone = _LONE_ID.match(text)
    return [int(lone.group(1))] if lone else []


def complete_permutation(ids: Iterable[int], count: int) -> list[int]:
    """Turn 1-based ids into a full 0-based permutation of ``range(count)``.

    Ids out of range and repeats are dropped (the first mention wins); ids never mentioned are
    appended in their prior order, so no candidate is ever lost.

    Example:
        >>> complete_permutation([3, 3, 7, 1], 4)
        [2, 0, 1, 3]
    """
    order: list[int] = []
    seen: set[int] = set()
    for raw in ids:
        pos = raw - 1
        if 0 <= pos < count and pos not in seen:
            seen.add(pos)
            order.append(pos)
    order.extend(pos for pos in range(count) if pos not in seen)
    return order


def parse_permutation(reply: str, count: int) -> list[int]:
    """Read a listwise reply over ``count`` passages (ids ``1..count``) into a 0-based order.

    Raises:
        UnparseableReply: the reply names no valid id at all.

    Example:
        >>> parse_permutation("<think>[1] seems off-topic</think> [3] > [1]", 3)
        [2, 0, 1]
    """
    ids = extract_ids(reply)
    if not any(1 <= i <= count for i in ids):
        raise UnparseableReply(
            f"no passage id between 1 and {count} in the reply {_excerpt(reply)}"
        )
    return complete_permutation(ids, count)


# --- pointwise ---------------------------------------------------------------------------------

_NUMBER = r"(-?\d+(?:\.\d+)?)"
_GRADE_LABEL = r"(?:grade|score|relevance|rating|label)"
_BRACKETED_GRADE = re.compile(
    rf"\[\s*(\d+)\s*\](?:[\s:=>)|\u2013\u2014]|-(?!\d))*"
    rf"(?:{_GRADE_LABEL}\s*(?:is|of|=|:)?\s*)?{_NUMBER}",
    re.I,
)
_LINE_ID = r"(?:(?:passage|candidate|document|doc|id)\s*#?\s*|#)?(\d+)"
_LABELLED_LINE = re.compile(
    rf"^[\s\-•>]*{_LINE_ID}\b.*?\b{_GRADE_LABEL}\b\s*(?:is|of|=|:)?\s*{_NUMBER}", re.I
)
_PLAIN_LINE = re.compile(
    rf"^[\s\-•>]*{_LINE_ID}\s*(?::|=|->|→|-|\u2013|\u2014|\))\s*{_NUMBER}", re.I
)
_MARKDOWN = re.compile(r"[*`]")
_JSON_SPAN = re.compile(r"[\[{].*[\]}]", re.S)


def parse_grades(
    reply: str, ids: Collection[int], *, min_grade: float, max_grade: float
) -> dict[int, float]:
    """Read pointwise grades: ``{id: grade}`` for the expected ``ids`` only.

    Accepts a JSON object (``{"1": 2}``) or list (``[{"id": 1, "grade": 2}]``), bracketed lines
    (``[1] 2``, ``[1]: grade 2/3``, several on one line), or labelled lines (``Passage 1: 2``,
    ``1 - 3``, ``id 1 ... score: 2``). A grade is tied to its candidate by id, never by line
    position. Ids not expected, repeats (the first wins) and grades outside
    ``[min_grade, max_grade]`` are dropped, so those candidates stay ungraded.

    Raises:
        UnparseableReply: no expected id got a grade on the scale.

    Example:
        >>> parse_grades("**[2]** 3\\n[1] 0\\n[1] 2\\n[3] 7", {1, 2, 3}, min_grade=0, max_grade=3)
        {2: 3.0, 1: 0.0}
    """
    text = _MARKDOWN.sub("", clean_reply(reply))
    for strategy in (_json_pairs, _bracketed_pairs, _line_pairs):
        pairs = strategy(text)
        grades = _keep_valid(pairs, ids, min_grade, max_grade)
        if grades:
            return grades
    raise UnparseableReply(
        f"no grade between {min_grade:g} and {max_grade:g} for ids "
        f"{sorted(ids)} in the reply {_excerpt(reply)}"
    )


def _keep_valid(
    pairs: Iterable[tuple[int, float]], ids: Collection[int], lo: float, hi: float
) -> dict[int, float]:
    grades: dict[int, float] = {}
    for cid, grade in pairs:
        if cid in ids and cid not in grades and math.isfinite(grade) and lo <= grade <= hi:
            grades[cid] = grade
    return grades


def _json_pairs(text: str) -> list[tuple[int, float]]:
    span = _JSON_SPAN.search(text)
    if span is None:
        return []
    try:
        data = json.loads(span.group(0))
    except ValueError:
        return []
    pairs: list[tuple[int, float]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            pair = _json_pair(key, value)
            if pair is not None:
                pairs.append(pair)
    elif isinstance(data, list):
        for item in data:
            if isinstance(item, dict):
                key = _first(item, ("id", "passage", "candidate", "doc", "document"))
                value = _first(item, ("grade", "score", "relevance", "rating", "label"))
                pair = _json_pair(key, value)
            elif isinstance(item, list) and len(item) == 2:
                pair = _json_pair(item[0], item[1])
            else:
                pair = None
            if pair is not None:
                pairs.append(pair)
    return pairs


def _first(item: dict[str, object], keys: Sequence[str]) -> object:
    lowered = {str(k).lower(): v for k, v in item.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


def _json_pair(key: object, value: object) -> tuple[int, float] | None:
    digits = _DIGITS.findall(str(key)) if isinstance(key, (str, int)) else []
    if len(digits) != 1 or isinstance(key, bool):
        return None
    if isinstance(value, dict):
        value = _first(value, ("grade", "score", "relevance", "rating", "label"))
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = re.fullmatch(rf"\s*{_NUMBER}\s*(?:/\s*\d+)?\s*", value)
        value = float(match.group(1)) if match else None
    if not isinstance(value, (int, float)):
        return None
    return int(digits[0]), float(value)


def _bracketed_pairs(text: str) -> list[tuple[int, float]]:
    return [(int(m.group(1)), float(m.group(2))) for m in _BRACKETED_GRADE.finditer(text)]


def _line_pairs(text: str) -> list[tuple[int, float]]:
    pairs: list[tuple[int, float]] = []
    for line in text.splitlines():
        match = _LABELLED_LINE.match(line) or _PLAIN_LINE.match(line)
        if match:
            pairs.append((int(match.group(1)), float(match.group(2))))
    return pairs


# --- log-probabilities -------------------------------------------------------------------------

_YES = frozenset({"yes", "y", "true"})
_NO = frozenset({"no", "n", "false"})


def yes_probability(positions: Sequence[Sequence[tuple[str, float]]]) -> float:
    """The probability that the answer is "yes", from the reply's token log-probabilities.

    ``positions`` holds, for each generated token, the alternatives the LLM reported as
    ``(token, logprob)`` pairs (the chosen token and its top alternatives). The first position
    that offers a yes or a no decides (leading whitespace, punctuation and Markdown tokens are
    skipped). With both present the answer is ``p(yes) / (p(yes) + p(no))``; with only one, its
    own probability (or its complement).

    Raises:
        UnparseableReply: no position offers a yes or a no.

    Example:
        >>> round(yes_probability([[("**", -0.1)], [("Yes", -0.2), ("No", -1.8)]]), 3)
        0.832
    """
    for alternatives in positions:
        p_yes = p_no = 0.0
        informative = False
        seen: set[str] = set()
        for token, logprob in alternatives:
            if token in seen:  # the chosen token is often repeated among the top alternatives
                continue
            seen.add(token)
            word = _token_word(token)
            if word:
                informative = True
            if not math.isfinite(logprob):
                continue
            if word in _YES:
                p_yes += math.exp(logprob)
            elif word in _NO:
                p_no += math.exp(logprob)
        if p_yes > 0.0 and p_no > 0.0:
            return p_yes / (p_yes + p_no)
        if p_yes > 0.0:
            return min(1.0, p_yes)
        if p_no > 0.0:
            return max(0.0, 1.0 - p_no)
        if informative:
            break
    raise UnparseableReply("no yes/no token among the reply's log-probabilities")


def _token_word(token: str) -> str:
    # SentencePiece marks a leading space with "▁", byte-level BPE with "Ġ".
    return re.sub(r"[\W_▁Ġ]+", "", token).lower()


def _excerpt(reply: str, limit: int = 120) -> str:
    flat = " ".join(reply.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")
