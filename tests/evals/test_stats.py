"""Comparison statistics against values worked out by hand."""

from __future__ import annotations

from math import comb

import pytest

from tuneops.evals import stats


def test_mcnemar_exact_p_value_is_the_two_sided_sign_test() -> None:
    # 7 discordant pairs, 1 vs 6: 2 * P(X <= 1 | Bin(7, 1/2)) = 2 * (1 + 7) / 128
    assert stats.mcnemar_p(1, 6) == pytest.approx(16 / 128)
    assert stats.mcnemar_p(6, 1) == pytest.approx(16 / 128)
    assert stats.mcnemar_p(3, 3) == 1.0  # capped at 1
    assert stats.mcnemar_p(0, 0) == 1.0
    assert stats.mcnemar_p(0, 10) == pytest.approx(2 / 1024)


def test_clopper_pearson_closed_forms() -> None:
    # k = n: lower bound solves p^n = 0.025; k = 0: upper bound solves (1-p)^n = 0.025.
    assert stats.clopper_pearson(5, 5) == pytest.approx((0.025 ** (1 / 5), 1.0))
    assert stats.clopper_pearson(0, 5) == pytest.approx((0.0, 1 - 0.025 ** (1 / 5)))


def test_clopper_pearson_bounds_put_exactly_2_5_percent_in_each_tail() -> None:
    low, high = stats.clopper_pearson(3, 10)
    upper_tail_at_low = sum(comb(10, i) * low**i * (1 - low) ** (10 - i) for i in range(3, 11))
    lower_tail_at_high = sum(comb(10, i) * high**i * (1 - high) ** (10 - i) for i in range(0, 4))
    assert upper_tail_at_low == pytest.approx(0.025)
    assert lower_tail_at_high == pytest.approx(0.025)
    assert (low, high) == pytest.approx((0.0667, 0.6525), abs=1e-4)  # the published table value


def test_paired_binary_interval_for_one_sided_discordance() -> None:
    # 10 examples: both pass 2, only B passes 3, neither 5 -> delta 3/10.
    a = [True, True, False, False, False, False, False, False, False, False]
    b = [True, True, True, True, True, False, False, False, False, False]
    iv = stats.paired_binary(a, b)
    assert iv.delta == pytest.approx(0.3)
    # B wins all m = 3 discordant pairs: p in [0.025^(1/3), 1]; delta = m (2p - 1) / n.
    assert iv.low == pytest.approx(3 * (2 * 0.025 ** (1 / 3) - 1) / 10)
    assert iv.high == pytest.approx(0.3)
    assert iv.p_value == pytest.approx(2 / 8)  # 2 * P(X <= 0 | Bin(3, 1/2))
    assert "McNemar" in iv.method


def test_paired_binary_with_no_discordant_pairs_is_a_zero_width_interval() -> None:
    iv = stats.paired_binary([True, False], [True, False])
    assert (iv.delta, iv.low, iv.high, iv.p_value) == (0.0, 0.0, 0.0, 1.0)


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
