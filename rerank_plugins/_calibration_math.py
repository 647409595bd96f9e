"""The arithmetic of calibration, on plain lists: fitting (Platt scaling by Newton's method,
isotonic regression by pool adjacent violators), applying (interpolation, the sigmoid) and
measuring (expected calibration error, reliability bins, Brier score, log loss). Standard library
only; :mod:`rerank_plugins._calibration` builds calibrations on it."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = [
    "brier_score",
    "expected_calibration_error",
    "fit_isotonic",
    "fit_platt",
    "interpolate",
    "log_loss",
    "reliability_bins",
    "sigmoid",
]

_EPS = 1e-12


def expected_calibration_error(
    probabilities: Sequence[float], labels: Sequence[int | bool], *, bins: int = 10
) -> float:
    """Expected calibration error over ``bins`` equal-width bins of ``[0, 1]``: the pair-weighted
    mean of |mean probability - share relevant| per bin.

    >>> expected_calibration_error([0.2, 0.2, 0.9, 0.9], [0, 1, 1, 1])
    0.2
    """
    n = len(probabilities)
    if n == 0:
        return 0.0
    total = 0.0
    for _, _, count, mean_p, share in reliability_bins(probabilities, labels, bins=bins):
        total += count * abs(mean_p - share)
    return round(total / n, 12)


def reliability_bins(
    probabilities: Sequence[float], labels: Sequence[int | bool], *, bins: int = 10
) -> list[tuple[float, float, int, float, float]]:
    """The non-empty bins of a reliability diagram: ``(low, high, pairs, mean probability,
    share relevant)`` for equal-width bins of ``[0, 1]`` (the last one includes 1.0)."""
    sums = [[0, 0.0, 0] for _ in range(bins)]
    for p, y in zip(probabilities, labels, strict=True):
        i = min(bins - 1, max(0, int(float(p) * bins)))
        sums[i][0] += 1
        sums[i][1] += float(p)
        sums[i][2] += 1 if y else 0
    return [
        (i / bins, (i + 1) / bins, int(c), float(s) / c, h / c)
        for i, (c, s, h) in enumerate(sums)
        if c
    ]


def brier_score(probabilities: Sequence[float], labels: Sequence[int | bool]) -> float:
    """Mean squared difference between probability and outcome (0 is perfect).

    >>> brier_score([1.0, 0.5], [1, 0])
    0.125
    """
    pairs = list(zip(probabilities, labels, strict=True))
    if not pairs:
        return 0.0
    return sum((float(p) - (1.0 if y else 0.0)) ** 2 for p, y in pairs) / len(pairs)


def log_loss(probabilities: Sequence[float], labels: Sequence[int | bool]) -> float:
    """Mean negative log-likelihood of the outcomes (probabilities clipped to [1e-6, 1 - 1e-6]).

    >>> round(log_loss([0.5, 0.5], [1, 0]), 4)
    0.6931
    """
    pairs = list(zip(probabilities, labels, strict=True))
    if not pairs:
        return 0.0
    total = 0.0
    for p, y in pairs:
        q = min(1.0 - 1e-6, max(1e-6, float(p)))
        total -= math.log(q if y else 1.0 - q)
    return total / len(pairs)


def fit_platt(xs: Sequence[float], ys: Sequence[int]) -> tuple[float, float]:
    """Platt's maximum-likelihood fit of ``sigmoid(a * x + b)`` (Newton with backtracking, as in
    Lin, Lin and Weng 2007), on smoothed targets."""
    pos = sum(ys)
    neg = len(ys) - pos
    hi, lo = (pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0)
    targets = [hi if y else lo for y in ys]
    a, b = 0.0, math.log((pos + 1.0) / (neg + 1.0))
    loss = _platt_loss(xs, targets, a, b)
    for _ in range(200):
        g_a = g_b = h_aa = h_ab = h_bb = 0.0
        for x, t in zip(xs, targets, strict=True):
            p = sigmoid(a * x + b)
            d = p - t
            w = max(p * (1.0 - p), _EPS)
            g_a += d * x
            g_b += d
            h_aa += w * x * x
            h_ab += w * x
            h_bb += w
        h_aa += 1e-12
        h_bb += 1e-12
        det = h_aa * h_bb - h_ab * h_ab
        if (abs(g_a) < 1e-9 and abs(g_b) < 1e-9) or det <= 0:
            break
        step_a = (h_bb * g_a - h_ab * g_b) / det
        step_b = (h_aa * g_b - h_ab * g_a) / det
        scale = 1.0
        while scale > 1e-10:
            na, nb = a - scale * step_a, b - scale * step_b
            new = _platt_loss(xs, targets, na, nb)
            if new < loss + 1e-12:
                break
            scale /= 2.0
        else:
            break
        a, b, loss = na, nb, new
        if scale * max(abs(step_a), abs(step_b)) < 1e-10:
            break
    return a, b


def _platt_loss(xs: Sequence[float], targets: Sequence[float], a: float, b: float) -> float:
    total = 0.0
    for x, t in zip(xs, targets, strict=True):
        z = a * x + b
        # -[t log p + (1 - t) log(1 - p)], written to stay finite for large |z|
        total += math.log1p(math.exp(-abs(z))) + max(z, 0.0) - t * z
    return total


def fit_isotonic(xs: Sequence[float], ys: Sequence[int]) -> tuple[list[float], list[float]]:
    """Pool adjacent violators on pairs sorted by signal (equal signals pooled first); returns
    one point per block: (mean signal, share relevant)."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    blocks: list[list[float]] = []  # [sum x, sum y, count]
    for i in order:
        x, y = xs[i], float(ys[i])
        if blocks and blocks[-1][0] / blocks[-1][2] == x:
            blocks[-1][0] += x
            blocks[-1][1] += y
            blocks[-1][2] += 1
        else:
            blocks.append([x, y, 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            sx, sy, c = blocks.pop()
            blocks[-1][0] += sx
            blocks[-1][1] += sy
            blocks[-1][2] += c
    return [b[0] / b[2] for b in blocks], [b[1] / b[2] for b in blocks]


def interpolate(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """The piecewise-linear curve through ``(xs, ys)`` at ``x``, flat beyond its ends."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    lo, hi = 0, len(xs) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x:
            lo = mid
        else:
            hi = mid
    span = xs[hi] - xs[lo]
    t = 0.0 if span <= 0 else (x - xs[lo]) / span
    # Clamped to the segment, so rounding can never make the curve dip at a point.
    return min(ys[hi], max(ys[lo], ys[lo] + t * (ys[hi] - ys[lo])))


def sigmoid(x: float) -> float:
    """``1 / (1 + exp(-x))``, without overflow for large ``|x|``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
