"""Comparison statistics against values worked out by hand."""

from __future__ import annotations

import pytest

from tuneops.evals import stats


def test_mcnemar_exact_p_value_is_the_two_sided_sign_test() -> None:
    # 7 discordant pairs, 1 vs 6: 2 * P(X <= 1 | Bin(7, 1/2)) = 2 * (1 + 7) / 128
    assert stats.mcnemar_p(1, 6) == pytest.approx(16 / 128)
    assert stats.mcnemar_p(6, 1) == pytest.approx(16 / 128)
    assert stats.mcnemar_p(3, 3) == 1.0  # capped at 1
    assert stats.mcnemar_p(0, 0) == 1.0
    assert stats.mcnemar_p(0, 10) == pytest.approx(2 / 1024)


def _table(n: int, only_b: int, only_a: int, both: int = 0) -> tuple[list[bool], list[bool]]:
    """Paired outcomes (A, B) with the given counts of flips each way and of pairs both passed."""
    a = [False] * only_b + [True] * only_a + [True] * both
    b = [True] * only_b + [False] * only_a + [True] * both
    rest = n - len(a)
    return a + [False] * rest, b + [False] * rest


def test_base_0_of_50_vs_fine_tuned_31_of_50_has_an_upper_bound_above_the_estimate() -> None:
    # The case: a conditional (flips-only) interval ends exactly at +0.62.
    iv = stats.paired_binary(*_table(50, 31, 0))
    assert iv.delta == pytest.approx(0.62)
    assert iv.low == pytest.approx(0.4815, abs=1e-4)
    assert iv.high == pytest.approx(0.7414, abs=1e-4)
    assert iv.high > iv.delta + 0.1
    assert iv.p_value == pytest.approx(2 / 2**31)


def test_paired_binary_with_no_discordant_pairs_still_has_width() -> None:
    # No flips in 2 pairs is weak evidence of no difference, not proof of it.
    iv = stats.paired_binary([True, False], [True, False])
    assert (iv.delta, iv.p_value) == (0.0, 1.0)
    assert iv.low < -0.3 and iv.high > 0.3
    assert iv.low == pytest.approx(-iv.high)


def test_bootstrap_of_constant_differences_has_zero_width() -> None:
    iv = stats.paired_bootstrap([0.2, 0.4, 0.6], [0.7, 0.9, 1.1])
    assert (iv.delta, iv.low, iv.high) == pytest.approx((0.5, 0.5, 0.5))


def test_bootstrap_of_two_pairs_spans_every_possible_resample_mean() -> None:
    # Differences 0 and 1: a resample's mean is 0, 0.5 or 1 with chances 1/4, 1/2, 1/4, so with
    # 2000 resamples the 2.5th percentile is 0 and the 97.5th is 1.
    iv = stats.paired_bootstrap([0.0, 0.0], [0.0, 1.0])
    assert (iv.delta, iv.low, iv.high) == (0.5, 0.0, 1.0)


def test_bootstrap_is_reproducible_with_its_fixed_seed() -> None:
    a = [0.1, 0.5, 0.3, 0.9, 0.2, 0.4]
    b = [0.3, 0.4, 0.6, 0.9, 0.5, 0.7]
    first, second = stats.paired_bootstrap(a, b), stats.paired_bootstrap(a, b)
    assert first == second
    assert first.low <= first.delta <= first.high
    assert stats.paired_bootstrap(a, b, seed=1) != first


def test_unpaired_or_empty_samples_are_refused() -> None:
    with pytest.raises(ValueError):
        stats.paired_binary([True], [True, False])
    with pytest.raises(ValueError):
        stats.paired_bootstrap([], [])
