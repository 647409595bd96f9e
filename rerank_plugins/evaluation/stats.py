"""Is the lift real? Paired significance tests and bootstrap confidence intervals.

Both systems are measured on the same queries, so the tests are *paired*: they look at the
per-query differences ``after - before``.

- :func:`randomization_test`: the two-sided paired randomization (sign-flip) test recommended for
  IR evaluation (Smucker, Allan and Carterette, CIKM 2007). Under the null hypothesis the sign of
  each query's difference is a coin flip; the p-value is the share of sign assignments whose mean
  difference is at least as far from 0 as the observed one. Exact for up to 16 queries, otherwise
  Monte Carlo with a fixed seed (the ``+1`` correction keeps it a valid p-value).
- :func:`paired_t_test`: the paired t-test (``scipy.stats.ttest_rel``), reported beside it.
- :func:`bootstrap_ci`: a percentile bootstrap interval of the mean difference and of the
  relative lift ``mean(after) / mean(before) - 1``, resampling queries with a fixed seed.

Example:
    >>> from rerank_plugins.evaluation.stats import compare
    >>> c = compare([0.0, 0.0, 1/3, 0.0] * 10, [1/3, 0.0, 1/3, 1/3] * 10)
    >>> round(c.absolute_lift, 4), c.p_value < 0.01
    (0.1667, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rerank_plugins._optional import require

__all__ = ["Comparison", "bootstrap_ci", "compare", "paired_t_test", "randomization_test"]

_EXACT_MAX_N = 16


def _pair(before: Sequence[float], after: Sequence[float]) -> Any:
    np = require("numpy", extra="eval", who="rerank_plugins.evaluation.stats")
    if len(before) != len(after):
        raise ValueError(
            f"Paired samples must have the same length (one value per query), got "
            f"{len(before)} before and {len(after)} after."
        )
    if not before:
        raise ValueError("Paired samples are empty; evaluate at least one query.")
    return np.asarray(after, dtype="float64") - np.asarray(before, dtype="float64")


def randomization_test(
    before: Sequence[float], after: Sequence[float], *, rounds: int = 20_000, seed: int = 0
) -> float:
    """Two-sided p-value of the paired randomization (sign-flip) test on the mean difference.

    >>> randomization_test([0.5, 0.5], [0.5, 0.5])
    1.0
    """
    np = require("numpy", extra="eval", who="randomization_test")
    diff = _pair(before, after)
    observed = abs(diff.mean())
    nonzero = diff[diff != 0]
    if nonzero.size == 0:
        return 1.0
    tol = 1e-12 * max(1.0, float(np.abs(diff).max()))
    n = diff.size
    if nonzero.size <= _EXACT_MAX_N:
        # Zero differences do not change under a flip: enumerate the others exactly.
        m = nonzero.size
        signs = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1) * 2 - 1
        means = np.abs(signs @ nonzero) / n
        return float(np.mean(means >= observed - tol))
    rng = np.random.default_rng(seed)
    hits = 0
    done = 0
    while done < rounds:
        batch = min(4096, rounds - done)
        signs = rng.integers(0, 2, size=(batch, nonzero.size), dtype=np.int8) * 2 - 1
        hits += int(np.sum(np.abs(signs @ nonzero) / n >= observed - tol))
        done += batch
    return (hits + 1) / (rounds + 1)


def paired_t_test(before: Sequence[float], after: Sequence[float]) -> float:
    """Two-sided p-value of the paired t-test (1.0 when every difference is equal to 0).

    >>> round(paired_t_test([0.1, 0.2, 0.3, 0.2], [0.3, 0.3, 0.5, 0.3]), 4)
    0.0138
    """
    diff = _pair(before, after)
    if float(diff.std()) <= 1e-12 * max(1.0, float(abs(diff).max())):
        # Every query moved by the same amount: no variance, the t statistic is undefined.
        return 1.0 if abs(float(diff.mean())) <= 1e-12 else 0.0
    scipy_stats = require("scipy.stats", extra="eval", who="paired_t_test")
    return float(scipy_stats.ttest_rel(after, before).pvalue)


def bootstrap_ci(
    before: Sequence[float],
    after: Sequence[float],
    *,
    confidence: float = 0.95,
    rounds: int = 10_000,
    seed: int = 0,
) -> tuple[tuple[float, float], tuple[float, float] | None]:
    """Percentile bootstrap intervals of the mean difference and of the relative lift.

    Returns:
        ``((low, high) of after - before, (low, high) of after / before - 1)``; the relative
        interval is ``None`` when a resample has a zero mean before.
    """
    np = require("numpy", extra="eval", who="bootstrap_ci")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence!r}.")
    _pair(before, after)
    b = np.asarray(before, dtype="float64")
    a = np.asarray(after, dtype="float64")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, b.size, size=(rounds, b.size))
    mb = b[idx].mean(axis=1)
    ma = a[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(ma - mb, [tail, 100.0 - tail])
    absolute = (float(low), float(high))
    if np.any(mb == 0):
        return absolute, None
    rlow, rhigh = np.percentile(ma / mb - 1.0, [tail, 100.0 - tail])
    return absolute, (float(rlow), float(rhigh))


@dataclass(frozen=True)
class Comparison:
    """Before/after on one metric over the same queries.

    Attributes:
        before: Mean before reranking.
        after: Mean after reranking.
        absolute_lift: ``after - before``.
        relative_lift: ``after / before - 1`` (``None`` when ``before`` is 0).
        p_value: Paired randomization test, two-sided.
        t_test_p_value: Paired t-test, two-sided.
        ci: 95% bootstrap interval of the absolute lift.
        relative_ci: 95% bootstrap interval of the relative lift (``None`` if undefined).
        improved: Share of queries whose value went up.
        unchanged: Share of queries whose value stayed the same.
        hurt: Share of queries whose value went down.
        queries: Number of queries.
    """

    before: float
    after: float
    absolute_lift: float
    relative_lift: float | None
    p_value: float
    t_test_p_value: float
    ci: tuple[float, float]
    relative_ci: tuple[float, float] | None
    improved: float
    unchanged: float
    hurt: float
    queries: int

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        out = asdict(self)
        out["ci"] = list(self.ci)
        out["relative_ci"] = None if self.relative_ci is None else list(self.relative_ci)
        return out


def compare(before: Sequence[float], after: Sequence[float], *, seed: int = 0) -> Comparison:
    """Means, lifts, p-values, confidence intervals and improved/unchanged/hurt shares."""
    diff = _pair(before, after)
    n = int(diff.size)
    mb = math.fsum(before) / n
    ma = math.fsum(after) / n
    ci, rel_ci = bootstrap_ci(before, after, seed=seed)
    eps = 1e-12
    return Comparison(
        before=mb,
        after=ma,
        absolute_lift=ma - mb,
        relative_lift=(ma / mb - 1.0) if mb > 0 else None,
        p_value=randomization_test(before, after, seed=seed),
        t_test_p_value=paired_t_test(before, after),
        ci=ci,
        relative_ci=rel_ci,
        improved=float((diff > eps).sum()) / n,
        unchanged=float((abs(diff) <= eps).sum()) / n,
        hurt=float((diff < -eps).sum()) / n,
        queries=n,
    )
