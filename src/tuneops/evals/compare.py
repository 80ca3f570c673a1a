"""Comparing two evals example by example: the metric delta with a confidence interval, and the
examples that flipped from pass to fail and from fail to pass."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlmodel import Session

from tuneops.errors import TuneopsError
from tuneops.evals import ledger, stats
from tuneops.evals.metrics import DEFAULT_THRESHOLD
from tuneops.store.eval_tables import EvalResultRow, EvalRunRow

Method = Literal["auto", "binomial", "bootstrap"]


@dataclass(frozen=True)
class Flip:
    """One example whose pass/fail outcome differs between A and B."""

    position: int
    line: int
    reference: str
    output_a: str
    output_b: str
    score_a: float
    score_b: float


@dataclass(frozen=True)
class Comparison:
    """B against A on the examples both scored, for one metric."""

    a: EvalRunRow
    b: EvalRunRow
    metric: str
    paired: int
    score_a: float
    score_b: float
    interval: stats.Interval
    to_fail: list[Flip]  # passed in A, fail in B (regressions)
    to_pass: list[Flip]  # failed in A, pass in B (fixes)

    @property
    def delta(self) -> float:
        """Mean score of B minus mean score of A on the paired examples."""
        return self.interval.delta

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (the shape of `tuneops eval compare --json`)."""
        return {"a": self.a.id, "b": self.b.id, "model_a": self.a.model, "model_b": self.b.model,
                "metric": self.metric, "paired": self.paired, "score_a": self.score_a,
                "score_b": self.score_b, "delta": self.delta,
                "ci": {"low": self.interval.low, "high": self.interval.high,
                       "confidence": self.interval.confidence, "method": self.interval.method},
                "p_value": self.interval.p_value,
                "pass_to_fail": [f.__dict__ for f in self.to_fail],
                "fail_to_pass": [f.__dict__ for f in self.to_pass]}


def _metric(a: EvalRunRow, b: EvalRunRow, wanted: str | None) -> str:
    common = [m for m in ledger.thresholds(a) if m in ledger.thresholds(b)]
    if wanted is not None:
        if wanted not in common:
            raise TuneopsError(f"metric {wanted!r} is not in both evals ({a.id}: {', '.join(ledger.thresholds(a))}; "
                               f"{b.id}: {', '.join(ledger.thresholds(b))}); pick one with --metric")
        return wanted
    if not common:
        raise TuneopsError(f"evals {a.id} and {b.id} share no metric; run both with the same [eval] metrics")
    return common[0]


def _keyed(results: list[EvalResultRow]) -> list[tuple[tuple[str, int], EvalResultRow]]:
    """Results keyed by (example hash, occurrence), so a set that repeats an example pairs each copy."""
    seen: dict[str, int] = {}
    out = []
    for r in results:
        n = seen[r.example_sha256] = seen.get(r.example_sha256, -1) + 1
        out.append(((r.example_sha256, n), r))
    return out


def compare_rows(a: EvalRunRow, b: EvalRunRow, results_a: list[EvalResultRow], results_b: list[EvalResultRow],
                 metric: str | None = None, method: Method = "auto") -> Comparison:
    """Compare two evals given their per-example results (pure; no ledger access)."""
    name = _metric(a, b, metric)
    by_example = dict(_keyed(results_b))
    pairs = [(ra, by_example[k]) for k, ra in _keyed(results_a) if k in by_example]
    if not pairs:
        raise TuneopsError(f"evals {a.id} and {b.id} have no example in common; compare evals of the same set")
    sa = [float(json.loads(ra.scores).get(name, 0.0)) for ra, _ in pairs]
    sb = [float(json.loads(rb.scores).get(name, 0.0)) for _, rb in pairs]
    cut = ledger.thresholds(b).get(name, DEFAULT_THRESHOLD)
    pass_a, pass_b = [s >= cut for s in sa], [s >= cut for s in sb]
    binary = all(s in (0.0, 1.0) for s in sa + sb)
    # Forcing "binomial" on a graded metric compares pass rates rather than mean scores.
    if method == "binomial" or (method == "auto" and binary):
        interval = stats.paired_binary(pass_a, pass_b)
    else:
        interval = stats.paired_bootstrap(sa, sb)
    to_fail, to_pass = [], []
    for (ra, rb), x, y, px, py in zip(pairs, sa, sb, pass_a, pass_b, strict=True):
        if px != py:
            flip = Flip(rb.position, rb.line, rb.reference, ra.output, rb.output, x, y)
            (to_fail if px else to_pass).append(flip)
    return Comparison(a, b, name, len(pairs), sum(sa) / len(sa), sum(sb) / len(sb), interval, to_fail, to_pass)


def compare(session: Session, a_id: str, b_id: str, *, metric: str | None = None,
            method: Method = "auto") -> Comparison:
    """Compare eval B against eval A (ids or unique prefixes) on the examples both scored."""
    a, b = ledger.get_eval(session, a_id), ledger.get_eval(session, b_id)
    return compare_rows(a, b, list(ledger.results(session, a.id)), list(ledger.results(session, b.id)),
                        metric, method)
