"""Pilot runs: train on a small seeded sample first, evaluate it against the base model, and admit the
full run only when the pilot's lift passes the spec's [pilot] gate.

The guides' advice is to try a few hundred examples before paying for the full set. Both runs are
recorded under the job; the full run's trigger names its pilot (``pilot run_... passed: ...``) and an
audit event records the gate's numbers either way, so lineage links them and a refusal is on file.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuneops import audit
from tuneops.errors import TuneopsError
from tuneops.spec import LoadedSpec, PilotSection, canonical_json
from tuneops.store.tables import RunRow

# Final answers this short, from this few distinct values, make a set a classification task.
_LABEL_WORDS = 4
_MAX_LABELS = 50


@dataclass
class PilotResult:
    """The pilot run, its lift over the base model, and the full run when the gate let it through."""

    pilot: RunRow
    passed: bool
    message: str
    lift: float | None = None
    interval: tuple[float, float] | None = None
    full: RunRow | None = None


def _label(record: dict[str, Any]) -> str | None:
    messages = record.get("messages") or []
    last = messages[-1] if messages else {}
    content = last.get("content") if isinstance(last, dict) and last.get("role") == "assistant" else None
    return content.strip() if isinstance(content, str) and len(content.split()) <= _LABEL_WORDS else None


def sample(lines: list[str], n: int, seed: int) -> tuple[list[str], bool]:
    """``n`` of the lines, seeded; stratified by final answer when the data is a classification task.
    Returns the sample in file order and whether it was stratified."""
    if n >= len(lines):
        return list(lines), False
    labels = [_label(json.loads(line)) for line in lines]
    distinct = set(labels)
    rng = random.Random(seed)
    if None in distinct or len(distinct) > _MAX_LABELS:
        return [lines[i] for i in sorted(rng.sample(range(len(lines)), n))], False
    groups: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)  # type: ignore[index]
    # Largest remainder: each label's share of n, at least one of each while there is room.
    quotas = {k: n * len(v) / len(lines) for k, v in sorted(groups.items())}
    take = {k: min(len(groups[k]), max(1 if n >= len(groups) else 0, int(q))) for k, q in quotas.items()}
    for k in sorted(quotas, key=lambda k: (-(quotas[k] - int(quotas[k])), k)):
        if sum(take.values()) >= n:
            break
        if take[k] < len(groups[k]):
            take[k] += 1
    picked = sorted(i for k, idx in sorted(groups.items()) for i in rng.sample(idx, take[k]))
    return [lines[i] for i in picked][:n], True


def pilot_spec(loaded: LoadedSpec, section: PilotSection, staging: Path) -> tuple[LoadedSpec, int, bool]:
    """The spec of the pilot: the same job trained on the sample, without promotion, retrain or pilot."""
    train = loaded.resolve(loaded.spec.data.train)
    lines = [line for line in train.read_text(encoding="utf-8").splitlines() if line.strip()]
    picked, stratified = sample(lines, section.examples, section.seed)
    body = "".join(line + "\n" for line in picked).encode()
    staging.mkdir(parents=True, exist_ok=True)
    path = staging / f"pilot-{hashlib.sha256(body).hexdigest()[:16]}.jsonl"
    path.write_bytes(body)
    data = loaded.spec.data.model_copy(update={"train": path.resolve()})
    spec = loaded.spec.model_copy(update={"data": data, "promote": None, "retrain": None, "pilot": None})
    sha = hashlib.sha256(canonical_json(spec).encode()).hexdigest()
    return loaded.model_copy(update={"spec": spec, "sha256": sha}), len(picked), stratified


def _lift(orch: Any, loaded: LoadedSpec, pilot: RunRow, metric: str | None) -> Any:
    """The pilot model against the base model on the spec's eval set: a comparison (B = pilot)."""
    from tuneops import models
    from tuneops.evals.compare import compare
    from tuneops.evals.flow import base_target, evaluate
    from tuneops.evals.runner import EvalConfig
    from tuneops.evals.sets import load_set
    from tuneops.store import queries

    assert loaded.spec.eval is not None
    config = EvalConfig.from_section(loaded.spec.eval, loaded.base_dir)
    evalset = load_set(config.set_path)
    with orch.store.read() as s:
        target = models.target_for(s, queries.model_for_run(s, pilot.id))  # type: ignore[arg-type]
    cand = evaluate(orch, target, config, evalset=evalset)
    base = evaluate(orch, base_target(loaded.spec), config, evalset=evalset)
    with orch.store.read() as s:
        return compare(s, base.id, cand.id, metric=metric)


def submit_with_pilot(orch: Any, loaded: LoadedSpec, *, examples: int | None = None, provider: str | None = None,
                      trigger: str = "manual", interval: float = 2.0,
                      on_pilot: Callable[[RunRow], Any] | None = None) -> PilotResult:
    """Run the pilot to the end, judge its lift, and submit the full run only if the gate passes."""
    from tuneops.runs.orchestrator import staging_dir

    spec = loaded.spec
    section = spec.pilot or PilotSection(examples=examples or 100)
    if examples is not None:
        section = section.model_copy(update={"examples": examples})
    if spec.eval is None:
        raise TuneopsError(f"{loaded.path}: a pilot is judged on the eval set; add an [eval] section")
    metric = section.metric or (spec.promote.metric if spec.promote else None)
    pilot_loaded, n, stratified = pilot_spec(loaded, section, staging_dir())
    how = "stratified by label" if stratified else "random"
    pilot = orch.submit(pilot_loaded, provider=provider, trigger=f"pilot ({n} examples, {how}, seed {section.seed})")
    if on_pilot is not None:
        on_pilot(pilot)
    pilot = orch.watch(pilot.id, interval=interval)
    if pilot.state != "succeeded":
        return _decide(orch, loaded, pilot, n, None, False, f"pilot run {pilot.id} ended {pilot.state}; "
                       "the full run was not admitted")
    cmp = _lift(orch, loaded, pilot, metric)
    iv = cmp.interval
    passed = iv.low > section.min_lift
    numbers = (f"{cmp.metric} lift {cmp.delta:+.4f} over the base model, 95% CI [{iv.low:+.4f}, {iv.high:+.4f}], "
               f"gate: lower end above {section.min_lift:+.4f}")
    result = _decide(orch, loaded, pilot, n, cmp, passed, f"pilot run {pilot.id} {'passed' if passed else 'failed'}:"
                     f" {numbers}")
    if passed:
        result.full = orch.submit(loaded, provider=provider, trigger=f"pilot {pilot.id} passed ({trigger})")
    return result


def _decide(orch: Any, loaded: LoadedSpec, pilot: RunRow, n: int, cmp: Any, passed: bool,
            message: str) -> PilotResult:
    """Record the gate's verdict on the pilot as an audit event and return it."""
    lift = cmp.delta if cmp is not None else None
    ci = (cmp.interval.low, cmp.interval.high) if cmp is not None else None
    with orch.store.write() as s:
        audit.append(s, "run.pilot_passed" if passed else "run.pilot_refused", "run", pilot.id,
                     job_name=loaded.spec.name, actor=orch.actor,
                     details={"pilot_run_id": pilot.id, "pilot_examples": n, "lift": lift,
                              "lift_ci": list(ci) if ci else None, "metric": cmp.metric if cmp else None,
                              "reason": message, "spec_path": str(loaded.path)})
    return PilotResult(pilot, passed, message, lift, ci)
