"""The ranking rules of the contract, as pure functions: no threads, no clock, no scorer call.

A finished call hands them what its units returned, in four steps:

1. :func:`normalised`: each raw score's signal (what a calibration maps) and the score users see;
2. :func:`collect`: the candidates, split into scored and unscored (in retrieval order), each
   repeated text given the score of its one scoring;
3. :func:`blended` (with ``blend``): the scorer's signal mixed with the first stage's;
4. :func:`order` then :func:`cut`: scored by group, score, signal and retrieval order, then the
   unscored in retrieval order; ``min_score`` filters, ``top_n`` cuts.

>>> items = [RankedText(0, "a", 0.2, -1.4), RankedText(1, "b", 0.9, 2.2)]
>>> [it.text for it in cut(order(items, {}, {}), min_score=None, top_n=1)]
['b']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rerank_plugins._calibration import Calibration, signal_of
from rerank_plugins._results import RankedText
from rerank_plugins._scorer import Normalization, normalize

__all__ = ["blend_scores", "blended", "collect", "cut", "normalised", "order"]


def normalised(
    raw: Sequence[float | None],
    normalization: Normalization | str,
    calibration: Calibration | None,
) -> tuple[list[float | None], list[float | None]]:
    """Each raw score's signal and the score users see (``None`` where unscored).

    The signal is what a calibration maps: the logit of a logit scorer, else its normalised
    score. The score is P(relevant) where the scorer has a calibration, else the normalised
    score, on the scorer's own scale.

    >>> normalised([0.0, None], Normalization.SIGMOID, None)
    ([0.0, None], [0.5, None])
    """
    have = [i for i, value in enumerate(raw) if value is not None]
    kind = Normalization(normalization)
    values = signal_of(kind.value, [raw[i] or 0.0 for i in have])
    signals: list[float | None] = [None] * len(raw)
    for i, value in zip(have, values, strict=True):
        signals[i] = value
    if calibration is not None:
        scores = [None if s is None else calibration.apply([s])[0] for s in signals]
    elif kind is Normalization.SIGMOID:
        scores = [None if s is None else normalize(kind, [s])[0] for s in signals]
    else:
        scores = list(signals)  # already the normalised score
    return signals, scores


def collect(
    texts: Sequence[str],
    keys: Sequence[str],
    window: int,
    unique: Sequence[str],
    raw: Sequence[float | None],
    scores: Sequence[float | None],
) -> tuple[list[RankedText], list[RankedText], dict[int, int]]:
    """Split the candidates into scored and unscored ones, both in retrieval order.

    ``keys`` are the texts as scored (``unique`` holds each once, ``raw`` and ``scores`` follow
    it); only the first ``window`` candidates can be scored. Returns the scored, the unscored,
    and each scored candidate's position in ``unique``.

    >>> scored, unscored, at = collect(["a", "b", "a"], ["a", "b", "a"], 3, ["a", "b"],
    ...                                [1.0, None], [0.7, None])
    >>> [it.index for it in scored], [it.index for it in unscored], at
    ([0, 2], [1], {0: 0, 2: 0})
    """
    position = {text: i for i, text in enumerate(unique)}
    scored: list[RankedText] = []
    unscored: list[RankedText] = []
    at: dict[int, int] = {}
    for index, text in enumerate(texts):
        pos = position.get(keys[index]) if index < window else None
        value = None if pos is None else raw[pos]
        if value is None or pos is None:
            unscored.append(RankedText(index, text, None, None))
        else:
            scored.append(RankedText(index, text, scores[pos], value))
            at[index] = pos
    return scored, unscored, at


def blended(
    scored: Sequence[RankedText],
    signals: Mapping[int, float],
    retrieval_scores: Sequence[float | None] | None,
    weight: float,
) -> list[RankedText]:
    """``scored`` with the blend of their signal (by candidate index) and the first stage's
    score as their score; without a first-stage score for each, the retrieval order itself.

    The scorer's signal is the logit where there is one (no saturation), else the normalised
    score (monotone in relevance for every kind, listwise ranks included); never the calibrated
    score, so that a calibration never changes the blend's order.
    """
    signal = [signals[it.index] for it in scored]
    first = [None if retrieval_scores is None else retrieval_scores[it.index] for it in scored]
    prior = (
        [float(x) for x in first if x is not None]
        if all(x is not None for x in first)
        else [-float(it.index) for it in scored]  # no scores: the retrieval order itself
    )
    return [
        RankedText(it.index, it.text, value, it.raw_score)
        for it, value in zip(scored, blend_scores(signal, prior, weight), strict=True)
    ]


def order(
    scored: Sequence[RankedText], signals: Mapping[int, float], groups: Mapping[int, int]
) -> list[RankedText]:
    """The scored candidates in the contract's order (a new list).

    A composite's groups (a fallback chain's scorers) lead; scores order within a group. The
    score is a non-decreasing map of the scorer's signal (its logit, else its normalised score):
    where the map ties two signals (a sigmoid rounding two large logits to 1.0, an isotonic
    step), the signal breaks the tie, so a calibration never changes the order; equal signals
    keep retrieval order. A candidate missing from ``signals`` or ``groups`` counts as 0.
    """
    return sorted(
        scored,
        key=lambda it: (
            groups.get(it.index, 0),
            -(it.score or 0.0),
            -signals.get(it.index, 0.0),
            it.index,
        ),
    )


def cut(
    ranked: Sequence[RankedText], *, min_score: float | None, top_n: int | None
) -> list[RankedText]:
    """``min_score`` drops scored candidates below it (never an unscored one); then ``top_n``
    keeps the first ones.

    >>> items = [RankedText(0, "a", 0.9, 2.2), RankedText(1, "b", 0.1, -2.2),
    ...          RankedText(2, "c", None, None)]
    >>> [it.index for it in cut(items, min_score=0.5, top_n=None)]
    [0, 2]
    """
    out = list(ranked)
    if min_score is not None:
        out = [it for it in out if it.score is None or it.score >= min_score]
    return out if top_n is None else out[:top_n]


def blend_scores(signal: Sequence[float], prior: Sequence[float], weight: float) -> list[float]:
    """Blend a reranker's signal with the first stage's, per query, into ``[0, 1]``.

    Both are standardised over the query's scored candidates (z-scores: subtract the mean, divide
    by the standard deviation; a constant list gives zeros), mixed as
    ``(1 - weight) * z(signal) + weight * z(prior)``, and mapped onto ``[0, 1]`` with the
    sigmoid, so the order is the blend's and the score stays a relevance-like number.

    >>> [round(x, 3) for x in blend_scores([2.0, 0.0], [0.0, 1.0], 0.0)]
    [0.731, 0.269]
    >>> blend_scores([2.0, 0.0], [0.0, 1.0], 0.5)
    [0.5, 0.5]
    """
    zs, zp = _zscores(signal), _zscores(prior)
    return [
        normalize(Normalization.SIGMOID, [(1.0 - weight) * a + weight * b])[0]
        for a, b in zip(zs, zp, strict=True)
    ]


def _zscores(values: Sequence[float]) -> list[float]:
    n = len(values)
    # Scaled first, so that values near the float limit (1e308) cannot overflow into NaN.
    scale = max((abs(v) for v in values), default=0.0)
    if scale == 0 or not math.isfinite(scale):
        return [0.0] * n
    scaled = [v / scale for v in values]
    mean = sum(scaled) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in scaled) / n)
    return [0.0 if sd == 0 else (v - mean) / sd for v in scaled]
