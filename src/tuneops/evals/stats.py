"""Paired statistics for comparing two models on the same examples, in pure Python.

Pass/fail metrics: the p-value is the exact two-sided McNemar test (a sign test on the discordant
pairs), and the interval for the difference of paired pass rates is Tango's score interval (Tango 1998,
"Equivalence test and confidence interval for the difference in proportions for the paired-sample
design"). It is unconditional: it does not treat the number of flips as fixed, so few flips, or flips
all one way, still give an honest width (a Clopper-Pearson interval on the flips alone is far too
narrow there, and its upper end can equal the point estimate). Graded metrics use a paired percentile
bootstrap with a fixed seed, so the same inputs always give the same interval.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from math import exp, lgamma, log, log1p, sqrt
from statistics import NormalDist

BOOTSTRAP_SEED = 0
BOOTSTRAP_SAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A difference B - A with its confidence interval and how it was computed."""

    delta: float
    low: float
    high: float
    method: str
    confidence: float = CONFIDENCE
    p_value: float | None = None


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space so large n cannot overflow."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    log_p, log_q, log_n = log(p), log1p(-p), lgamma(n + 1)
    return min(1.0, sum(exp(log_n - lgamma(i + 1) - lgamma(n - i + 1) + i * log_p + (n - i) * log_q)
                        for i in range(k + 1)))


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value: b pairs only A passed, c pairs only B passed."""
    m = b + c
    if m == 0:
        return 1.0
    return min(1.0, 2 * binom_cdf(min(b, c), m, 0.5))


def _tango_score(delta: float, b: int, c: int, n: int) -> float:
    """Tango's score statistic for B - A = ``delta``: b pairs only B passed, c pairs only A passed."""
    # q is the constrained maximum-likelihood estimate of P(only A passes) given the difference.
    big_a = 2 * n
    big_b = -b - c + (2 * n - b + c) * delta
    big_c = -c * delta * (1 - delta)
    q = (sqrt(max(0.0, big_b * big_b - 4 * big_a * big_c)) - big_b) / (2 * big_a)
    variance = n * (2 * q + delta * (1 - delta))
    top = b - c - n * delta
    if variance <= 0:
        return 0.0 if top == 0 else (float("inf") if top > 0 else float("-inf"))
    return top / sqrt(variance)


def tango_interval(b: int, c: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Tango's score interval for the difference of paired proportions (b = only B passed, c = only A)."""
    if n <= 0 or b < 0 or c < 0 or b + c > n:
        raise ValueError(f"not a paired table: {b} and {c} discordant pairs of {n}")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    estimate = (b - c) / n

    # The score falls as delta rises; each bound is where it crosses -z or +z (bisection, 60 halvings).
    def root(lo: float, hi: float, target: float) -> float:
        for _ in range(60):
            mid = (lo + hi) / 2
            if _tango_score(mid, b, c, n) > target:
                lo = mid
            else:
                hi = mid
        return (lo + hi) / 2

    low = -1.0 if _tango_score(-1.0, b, c, n) <= z else root(-1.0, estimate, z)
    high = 1.0 if _tango_score(1.0, b, c, n) >= -z else root(estimate, 1.0, -z)
    return low, high


def paired_binary(a: Sequence[bool], b: Sequence[bool], confidence: float = CONFIDENCE) -> Interval:
    """Difference in pass rate (B - A) on paired pass/fail outcomes: Tango's score interval, exact McNemar p."""
    n = _check(a, b)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    low, high = tango_interval(only_b, only_a, n, confidence)
    return Interval((only_b - only_a) / n, low, high, "Tango score interval, exact McNemar p",
                    confidence, mcnemar_p(only_a, only_b))


def paired_bootstrap(a: Sequence[float], b: Sequence[float], *, samples: int = BOOTSTRAP_SAMPLES,
                     seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE) -> Interval:
    """Difference in mean score (B - A) with a percentile interval from resampling example pairs."""
    n = _check(a, b)
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    delta = sum(diffs) / n
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(samples))
    tail = (1 - confidence) / 2
    low = means[int(tail * samples)]
    high = means[min(samples - 1, int((1 - tail) * samples))]
    return Interval(delta, low, high, f"paired bootstrap ({samples} resamples, seed {seed})", confidence)


def _check(a: Sequence[object], b: Sequence[object]) -> int:
    if len(a) != len(b):
        raise ValueError("paired samples differ in length")
    if not a:
        raise ValueError("no paired examples to compare")
    return len(a)
