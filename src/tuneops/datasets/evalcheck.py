"""Eval-set preflight: the rules an eval set must meet before a run trains, and leakage between files.

The eval set's lines go through the same per-example checks as training data (``preflight.scan``);
this module adds what only an eval set needs (reference answer last, via ``evals.sets``), checks the
spec's ``[eval]`` and ``[promote]`` against each other and against the set's size, and summarizes
examples shared between training, validation and eval files.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson

from tuneops.datasets.findings import Finding
from tuneops.datasets.reader import LineReader
from tuneops.datasets.stats import FileAggregate
from tuneops.datasets.values import SpecLocator
from tuneops.spec import LoadedSpec

# A two-sided 95% interval for the difference of two scores in [0, 1] measured on n examples is at
# most about 1.96 * sqrt(2 * 0.25 / n) wide on each side (the worst case, p = 0.5): a promotion margin
# smaller than that is decided by noise as often as by the models.
Z95 = 1.96


def noise_floor(n: int) -> float:
    """Half-width of the worst-case 95% interval of a score difference on ``n`` examples."""
    return Z95 * math.sqrt(0.5 / n) if n else 1.0


def spec_findings(loaded: LoadedSpec, at: SpecLocator) -> list[Finding]:
    """[eval] and [promote] checked against each other: metric names known, promote metric scored."""
    from tuneops.errors import did_you_mean
    from tuneops.evals import metrics

    spec = loaded.spec
    out: list[Finding] = []
    if spec.eval is not None:
        # Built-in names need no entry-point scan (~20 ms); plugins are looked up only for other names.
        others = [m for m in spec.eval.metrics if m not in metrics.BUILTINS]
        known = metrics.names() if others else []
        for name in others:
            if name not in known:
                out.append(at.error("eval.metric", "eval.metrics",
                                    f"unknown metric {name!r};{did_you_mean(name, known)} known: "
                                    f"{', '.join(known)}"))
    if spec.promote is not None:
        if spec.eval is None:
            out.append(at.error("promote.no_eval", "promote",
                                "[promote] needs an [eval] section to score candidates on"))
        elif spec.promote.metric not in spec.eval.metrics:
            out.append(at.error("promote.metric", "promote.metric",
                                f"{spec.promote.metric!r} is not among the [eval] metrics "
                                f"({', '.join(spec.eval.metrics)}); add it there or promote on one of them"))
    return out


def line_findings(path: Path, label: str) -> list[Finding]:
    """Per line, what makes an eval example unusable for scoring (evals.sets' own rules)."""
    from tuneops.evals.sets import example_problem

    out: list[Finding] = []
    for line, raw in LineReader(path, label, []):
        try:
            record = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue  # reported by the per-example checks
        problem = example_problem(record)
        if problem is not None:
            out.append(Finding("error", "eval.example", label, line, "messages", problem))
    return out


def set_findings(loaded: LoadedSpec, ev: FileAggregate, train: FileAggregate, at: SpecLocator) -> list[Finding]:
    """The eval set's size against the promotion gate, and classification labels against training."""
    spec = loaded.spec
    out: list[Finding] = []
    n = ev.examples
    if n == 0:
        out.append(Finding("error", "eval.empty", ev.label, None, None,
                           "the eval set has no usable examples; nothing could be scored"))
        return out
    rule = spec.promote
    if rule is not None:
        if rule.min_examples > n:
            out.append(at.error("promote.min_examples", "promote.min_examples",
                                f"the gate needs {rule.min_examples:,} scored examples but the eval set has {n:,}: "
                                "no candidate could ever be promoted"))
        floor = noise_floor(n)
        if 0 < rule.margin < floor:
            need = math.ceil(0.5 * (Z95 / rule.margin) ** 2)
            out.append(at.error("promote.margin_undetectable", "promote.margin",
                                f"margin {rule.margin:g} on {n:,} eval examples is below the noise of a score "
                                f"difference there (about ±{floor:.2f} at 95%; one example is {1 / n:.3f}): "
                                f"the gate would be decided by chance; about {need:,} examples make it "
                                "detectable", severity="warning"))
    if spec.eval is not None and "label_accuracy" in spec.eval.metrics and not train.too_many_labels:
        seen = set(train.labels)
        wanted = spec.eval.labels or [ev.label_display.get(k, k) for k in ev.label_order]
        missing = [lab for lab in wanted if " ".join(lab.casefold().split()) not in seen]
        if missing and seen:
            shown = ", ".join(map(repr, missing[:10])) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
            out.append(Finding("warning", "eval.label_unseen", ev.label, None, "reference",
                               f"eval label(s) {shown} never appear as a training reply: the model cannot "
                               "learn to answer them"))
    return out


def leakage_findings(files: list[FileAggregate], max_overlap: float | None) -> list[Finding]:
    """One summary per pair of files that share examples: count, first lines on both sides; an error
    when the shared fraction is above ``data.max_overlap``."""
    out: list[Finding] = []
    for agg in files:
        for code, pairs in agg.overlap_lines.items():
            other = next(o for o, _, c in agg.against if c == code)
            share = len(pairs) / agg.examples if agg.examples else 0.0
            first = ", ".join(f"{a}={b}" for a, b in pairs[:5]) + (f" and {len(pairs) - 5:,} more"
                                                                    if len(pairs) > 5 else "")
            over = max_overlap is not None and share > max_overlap
            limit = (f"; over data.max_overlap = {max_overlap:g}" if over else
                     "; set data.max_overlap to make this an error above a fraction" if max_overlap is None else "")
            out.append(Finding("error" if over else "warning", "leak." + code.split(".", 1)[1], agg.label, None,
                               "data.max_overlap" if over else None,
                               f"{len(pairs):,} of {agg.examples:,} {agg.role} examples ({share:.0%}) are also in "
                               f"{other.label} (lines {agg.label.rsplit('/', 1)[-1]}={other.label.rsplit('/', 1)[-1]}: "
                               f"{first}){limit}"))
    return out
