"""Paired statistics for comparing two models on the same examples, in pure Python.

Pass/fail metrics use exact binomial reasoning on the discordant pairs (McNemar): the p-value is the
exact two-sided sign test, and the interval for the difference is the Clopper-Pearson interval of
"B wins a discordant pair", scaled to all examples. Graded metrics use a paired percentile bootstrap
with a fixed seed, so the same inputs always give the same interval.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from math import exp, lgamma, log, log1p

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


def _bisect(f, target: float, *, increasing: bool) -> float:  # type: ignore[no-untyped-def]
    """The p in [0, 1] where the monotone function ``f(p)`` equals ``target``."""
    lo, hi = 0.0, 1.0
    for _ in range(60):  # 2^-60: as fine as a double can tell
        mid = (lo + hi) / 2
        if (f(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for a binomial proportion with ``k`` successes of ``n``."""
    if n == 0:
        return 0.0, 1.0
    tail = (1 - confidence) / 2
    # Lower bound: P(X >= k | p) = tail; upper bound: P(X <= k | p) = tail.
    low = 0.0 if k == 0 else _bisect(lambda p: 1 - binom_cdf(k - 1, n, p), tail, increasing=True)
    high = 1.0 if k == n else _bisect(lambda p: binom_cdf(k, n, p), tail, increasing=False)
    return low, high


def paired_binary(a: Sequence[bool], b: Sequence[bool], confidence: float = CONFIDENCE) -> Interval:
    """Difference in pass rate (B - A) on paired pass/fail outcomes, exact binomial on discordant pairs."""
    n = _check(a, b)
    only_a = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    only_b = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    m = only_a + only_b
    delta = (only_b - only_a) / n
    if m == 0:
        return Interval(0.0, 0.0, 0.0, "exact binomial (McNemar)", confidence, 1.0)
    low, high = clopper_pearson(only_b, m, confidence)
    # With m discordant pairs, B - A = m * (2p - 1) / n where p is the share B wins.
    return Interval(delta, m * (2 * low - 1) / n, m * (2 * high - 1) / n, "exact binomial (McNemar)",
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
