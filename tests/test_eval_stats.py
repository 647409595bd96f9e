"""Sanity of the significance test and the bootstrap interval."""

from __future__ import annotations

import random

import pytest

from rerank_plugins.evaluation.stats import (
    bootstrap_ci,
    compare,
    paired_t_test,
    randomization_test,
)

scipy_stats = pytest.importorskip("scipy.stats")


def test_no_difference_is_not_significant() -> None:
    same = [0.1, 0.5, 0.9, 0.3] * 10
    assert randomization_test(same, same) == 1.0
    assert paired_t_test(same, same) == 1.0
    c = compare(same, same)
    assert c.absolute_lift == 0.0 and c.ci == (0.0, 0.0) and c.unchanged == 1.0


def test_exact_test_matches_enumeration_by_hand() -> None:
    # three non-zero differences of +1: 8 sign patterns, |mean| >= observed only for +++ and ---
    before = [0.0, 0.0, 0.0, 0.5]
    after = [1.0, 1.0, 1.0, 0.5]
    assert randomization_test(before, after) == pytest.approx(2 / 8)


def test_clear_lift_is_significant_and_noise_is_not() -> None:
    rng = random.Random(7)
    before = [rng.random() for _ in range(200)]
    lifted = [b + 0.1 + rng.gauss(0, 0.05) for b in before]
    noise = [b + rng.gauss(0, 0.05) for b in before]
    assert randomization_test(before, lifted) < 0.001
    assert randomization_test(before, noise) > 0.05


def test_randomization_agrees_with_scipy_permutation_test() -> None:
    rng = random.Random(3)
    before = [rng.random() for _ in range(40)]
    after = [b + rng.gauss(0.04, 0.15) for b in before]
    ours = randomization_test(before, after, rounds=20_000)
    diffs = [a - b for a, b in zip(after, before, strict=True)]
    ref = scipy_stats.permutation_test(
        (diffs,),
        lambda d: sum(d) / len(d),
        permutation_type="samples",
        n_resamples=20_000,
        alternative="two-sided",
        random_state=0,
    ).pvalue
    assert ours == pytest.approx(ref, abs=0.02)


def test_t_test_matches_scipy() -> None:
    before = [0.2, 0.4, 0.1, 0.9, 0.5, 0.3]
    after = [0.3, 0.6, 0.1, 0.8, 0.9, 0.5]
    assert paired_t_test(before, after) == pytest.approx(
        float(scipy_stats.ttest_rel(after, before).pvalue)
    )


def test_bootstrap_interval_contains_the_mean_and_narrows_with_more_queries() -> None:
    rng = random.Random(11)

    def sample(n: int) -> tuple[list[float], list[float]]:
        before = [rng.random() for _ in range(n)]
        return before, [b + 0.05 + rng.gauss(0, 0.2) for b in before]

    small_b, small_a = sample(30)
    big_b, big_a = sample(3000)
    (lo_s, hi_s), rel = bootstrap_ci(small_b, small_a)
    (lo_b, hi_b), _ = bootstrap_ci(big_b, big_a)
    mean_small = sum(small_a) / 30 - sum(small_b) / 30
    assert lo_s <= mean_small <= hi_s
    assert lo_b < 0.05 < hi_b  # the true lift
    assert (hi_b - lo_b) < (hi_s - lo_s) / 4
    assert rel is not None and rel[0] < rel[1]


def test_seeded_and_reproducible() -> None:
    before = [0.0, 1 / 3, 0.0, 2 / 3] * 20
    after = [1 / 3, 1 / 3, 0.0, 1.0] * 20
    assert compare(before, after, seed=5) == compare(before, after, seed=5)


def test_shares_and_relative_lift() -> None:
    c = compare([0.5, 0.5, 0.5, 0.5], [1.0, 0.5, 0.0, 1.0])
    assert (c.improved, c.unchanged, c.hurt) == (0.5, 0.25, 0.25)
    assert c.relative_lift == pytest.approx(0.25)
    assert compare([0.0, 0.0], [0.0, 1.0]).relative_lift is None


def test_bad_input() -> None:
    with pytest.raises(
        ValueError, match=r"same length \(one value per query\), got 2 before and 1"
    ):
        compare([0.1, 0.2], [0.1])
    with pytest.raises(ValueError, match=r"Paired samples are empty"):
        randomization_test([], [])
    with pytest.raises(ValueError, match=r"confidence must be between 0 and 1, got 1.5"):
        bootstrap_ci([0.1], [0.2], confidence=1.5)
