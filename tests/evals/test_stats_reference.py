"""The paired interval and McNemar p-value against independent reference implementations (scipy and
statsmodels) on a grid of tables, including flips all one way and no flips at all."""

from __future__ import annotations

import pytest

from tuneops.evals import stats

scipy_optimize = pytest.importorskip("scipy.optimize")
scipy_stats = pytest.importorskip("scipy.stats")
scipy_special = pytest.importorskip("scipy.special")
contingency = pytest.importorskip("statsmodels.stats.contingency_tables")

Z = scipy_stats.norm.ppf(0.975)


def _constrained_q(delta: float, b: int, c: int, n: int) -> float:
    """P(only A passes) maximising the multinomial likelihood with P(only B) - P(only A) = delta."""
    xlogy = scipy_special.xlogy

    def nll(q: float) -> float:
        p12, p21 = q + delta, q
        return -(xlogy(b, p12) + xlogy(c, p21) + xlogy(n - b - c, 1 - p12 - p21))

    lo, hi = max(0.0, -delta), (1 - delta) / 2
    if hi - lo < 1e-15:
        return lo
    best = scipy_optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded",
                                          options={"xatol": 1e-13})
    # The bounded search never evaluates the ends; a maximum on the boundary is found by checking them.
    return min((lo, hi, best.x), key=nll)


def _score(delta: float, b: int, c: int, n: int) -> float:
    q = _constrained_q(delta, b, c, n)
    var = n * (2 * q + delta - delta * delta)
    return (b - c - n * delta) / var**0.5 if var > 0 else (0.0 if b - c == n * delta else float("inf"))


def _reference_interval(b: int, c: int, n: int) -> tuple[float, float]:
    """Invert the score test numerically: the deltas whose |score| <= z."""
    est = (b - c) / n
    eps = 1e-9
    low = -1.0 if _score(-1 + eps, b, c, n) <= Z else scipy_optimize.brentq(
        lambda d: _score(d, b, c, n) - Z, -1 + eps, est, xtol=1e-12)
    high = 1.0 if _score(1 - eps, b, c, n) >= -Z else scipy_optimize.brentq(
        lambda d: _score(d, b, c, n) + Z, est, 1 - eps, xtol=1e-12)
    return low, high


GRID = [(n, b, c) for n in (10, 50, 200)
        for b, c in {(0, 0), (1, 0), (0, 1), (n, 0), (0, n), (n // 2, 0), (0, n // 5), (3, 1), (1, 3),
                     (n // 10, n // 10), (n // 3, n // 4), (n // 2, n // 2), (n - 1, 1)}
        if b + c <= n]


@pytest.mark.parametrize(("n", "b", "c"), GRID)
def test_tango_interval_matches_the_numerically_inverted_score_test(n: int, b: int, c: int) -> None:
    ours = stats.tango_interval(b, c, n)
    assert ours == pytest.approx(_reference_interval(b, c, n), abs=2e-6)
    assert ours[0] <= (b - c) / n <= ours[1]


@pytest.mark.parametrize(("n", "b", "c"), GRID)
def test_mcnemar_exact_p_matches_statsmodels_and_scipy(n: int, b: int, c: int) -> None:
    table = [[n - b - c, c], [b, 0]]
    expected = contingency.mcnemar(table, exact=True).pvalue
    assert stats.mcnemar_p(c, b) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    if b + c:
        assert stats.mcnemar_p(c, b) == pytest.approx(scipy_stats.binomtest(b, b + c, 0.5).pvalue, rel=1e-9)


def test_the_interval_narrows_as_evidence_grows() -> None:
    small, large = stats.tango_interval(3, 0, 10), stats.tango_interval(30, 0, 100)
    assert large[1] - large[0] < small[1] - small[0]


@pytest.mark.parametrize(("b", "c", "n"), [(-1, 0, 5), (3, 3, 5), (0, 0, 0)])
def test_a_table_that_cannot_be_is_refused(b: int, c: int, n: int) -> None:
    with pytest.raises(ValueError):
        stats.tango_interval(b, c, n)
