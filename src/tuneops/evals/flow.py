"""After a run succeeds: evaluate the new model, the alias holder and (with ``beat_base``) the base
model on the spec's eval set, then promote or refuse by the spec's [promote] rule.

``after_success`` is what ``submit --watch``, ``runs watch``, ``sync`` and ``quickstart`` call. The
inference cache makes scoring the holder again free, so every decision uses fresh scores on the
current eval set rather than numbers from another set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from tuneops.evals import ledger
from tuneops.evals.runner import EvalConfig, ModelTarget, Progress, run_eval
from tuneops.evals.sets import EvalSet, load_set
from tuneops.spec import JobSpec, LoadedSpec
from tuneops.store import queries
from tuneops.store.eval_tables import EvalRunRow
from tuneops.store.tables import ModelRow, RunRow

Status = Literal["promoted", "refused", "unchanged", "skipped"]
# Called with the role being evaluated ("candidate", "holder", "base") before its eval starts.
RoleListener = Any


@dataclass
class PromotionResult:
    """What happened after a run: which models were scored, and whether the alias moved and why."""

    status: Status
    message: str
    alias: str | None = None
    model: str | None = None
    previous_model: str | None = None
    metric: str | None = None
    rule: str | None = None  # the first rule that failed, when refused
    scores: dict[str, float] = field(default_factory=dict)  # role -> score on the gate's metric
    evals: dict[str, str] = field(default_factory=dict)  # role -> eval id
    notes: list[str] = field(default_factory=list)  # what the move did to deployments (runs.retire)

    @property
    def promoted(self) -> bool:
        """True when the alias now points at the new model."""
        return self.status == "promoted"

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dict(self.__dict__)


def base_target(spec: JobSpec) -> ModelTarget:
    """The spec's base model at the spec's provider."""
    return ModelTarget(provider=spec.model.provider, model=spec.model.base, kind="base",
                       options=spec.provider_options(), job_name=spec.name, price_model=spec.model.base)


def _base_of(candidate: ModelTarget, base_model: str) -> ModelTarget:
    """The base model a fine-tuned model was trained from, at the provider that trained it."""
    return ModelTarget(provider=candidate.provider, model=base_model, kind="base", options=candidate.options,
                       job_name=candidate.job_name, price_model=base_model)


def evaluate(orch: Any, target: ModelTarget, config: EvalConfig, *, evalset: EvalSet | None = None,
             progress: Progress | None = None) -> EvalRunRow:
    """Run one eval through the orchestrator's provider pool and retry policy."""
    adapter = orch.pool.get(target.provider, dict(target.options))
    return run_eval(orch.store, adapter, target, config, evalset=evalset, progress=progress,
                    policy=orch.policy, actor=orch.actor)


def evaluate_base(orch: Any, loaded: LoadedSpec, *, progress: Progress | None = None,
                  on_role: RoleListener = None) -> EvalRunRow:
    """Score the spec's base model on the spec's eval set (cached answers make a repeat free)."""
    if loaded.spec.eval is None:
        from tuneops.errors import TuneopsError

        raise TuneopsError(f"{loaded.path} has no [eval] section; add one with `set = \"data/<name>.jsonl\"`")
    target = base_target(loaded.spec)
    if on_role is not None:
        on_role("base", target)
    return evaluate(orch, target, EvalConfig.from_section(loaded.spec.eval, loaded.base_dir), progress=progress)


def gate_and_move(orch: Any, spec: JobSpec, base_dir: Path, model: ModelRow, *,
                  progress: Progress | None = None, on_role: RoleListener = None) -> PromotionResult:
    """Score the candidate, the holder and the base model as the rule needs; promote or refuse."""
    from tuneops import models

    rule, section = spec.promote, spec.eval
    assert rule is not None and section is not None
    config = EvalConfig.from_section(section, base_dir)
    if rule.metric not in config.metrics:
        from tuneops.evals.metrics import MetricError

        raise MetricError(f"job {spec.name}: [promote] metric {rule.metric!r} is not among [eval] metrics "
                          f"({', '.join(config.metrics)}); add it to [eval] metrics or change [promote] metric")
    evalset = load_set(config.set_path)
    with orch.store.read() as s:
        current = models.holder(s, model.job_name, rule.alias)
        candidate_target = models.target_for(s, model)
        holder_target = models.target_for(s, current) if current is not None and current.id != model.id else None
    full = models.alias_name(model.job_name, rule.alias)
    result = PromotionResult("skipped", "", alias=full, model=model.provider_model_id, metric=rule.metric)
    if current is not None and current.id == model.id:
        result.status, result.message = "unchanged", f"{full} already points at {model.provider_model_id}"
        return result

    def score(role: str, target: ModelTarget) -> models.Score:
        if on_role is not None:
            on_role(role, target)
        row = evaluate(orch, target, config, evalset=evalset, progress=progress)
        result.evals[role] = row.id
        values = ledger.scores(row)
        result.scores[role] = values[rule.metric]
        return models.Score(target.model, values[rule.metric], row.examples, row.id)

    cand = score("candidate", candidate_target)
    held = score("holder", holder_target) if holder_target is not None else None
    base = score("base", _base_of(candidate_target, model.base_model)) if rule.beat_base else None
    lifts = _lifts(orch, rule.metric, cand, {"holder": held, "base": base})
    gate = models.check_gate(rule, cand, held, base, lifts)
    numbers = {"metric": rule.metric, "candidate_score": cand.value, "margin": rule.margin,
               "holder_score": held.value if held else None, "base_score": base.value if base else None,
               "examples_scored": cand.examples, "eval_id": cand.eval_id,
               **{f"{role}_lift_ci": [iv.low, iv.high] for role, iv in lifts.items()}}
    result.previous_model = current.provider_model_id if current is not None else None
    if not gate.passed:
        models.refuse(orch.store, model, rule.alias, gate, details=numbers, actor=orch.actor)
        result.status, result.rule = "refused", gate.rule
        result.message = f"not promoted to {full}: {gate.message}"
        return result
    move = models.promote(orch.store, model.id or 0, rule.alias, reason="gate passed", eval_id=cand.eval_id,
                          details={k: v for k, v in numbers.items() if k != "eval_id"}, actor=orch.actor)
    result.status, result.notes = "promoted", move.notes
    against = [f"holder {held.value:.4f}" if held else "no previous holder"]
    if base is not None:
        against.append(f"base {base.value:.4f}")
    result.message = (f"promoted {move.model} to {full}: {rule.metric} {cand.value:.4f} vs "
                      f"{', '.join(against)} (margin {rule.margin:.4f})")
    return result


def _lifts(orch: Any, metric: str, cand: Any, others: dict[str, Any]) -> dict[str, Any]:
    """The paired interval of the candidate's lift over each scored other model, per role."""
    from tuneops.evals.compare import compare

    out = {}
    with orch.store.read() as s:
        for role, other in others.items():
            if other is not None and other.eval_id and cand.eval_id:
                out[role] = compare(s, other.eval_id, cand.eval_id, metric=metric).interval
    return out


def after_success(orch: Any, loaded: LoadedSpec | None, run: RunRow, *, progress: Progress | None = None,
                  on_role: RoleListener = None) -> PromotionResult:
    """Evaluate and promote-or-refuse the model a succeeded run produced, when the spec asks for it.

    ``loaded`` is the spec as it is now on disk; None (``sync``, which has only the ledger) uses the
    spec the run was admitted with, its paths resolved against the spec file's folder.
    """
    from tuneops.runs.orchestrator import spec_of

    spec = loaded.spec if loaded is not None else spec_of(run)
    where = loaded.path if loaded is not None else run.spec_path
    base_dir = loaded.base_dir if loaded is not None else Path(run.spec_path).parent
    if run.state != "succeeded":
        return PromotionResult("skipped", f"run {run.id} is {run.state}; only a succeeded run is evaluated")
    from tuneops.runs.deploy import ensure_served

    # The deploy step of the lifecycle; evals then reach the model through its deployment.
    unserved = ensure_served(orch, run) if run.model_id else None
    if spec.eval is None or spec.promote is None:
        missing = " and ".join(n for n, v in (("[eval]", spec.eval), ("[promote]", spec.promote)) if v is None)
        return PromotionResult("skipped", f"{where} has no {missing}; nothing evaluated or promoted")
    with orch.store.read() as s:
        model = queries.model_for_run(s, run.id)
    if model is None:
        return PromotionResult("skipped", f"run {run.id} recorded no model; nothing to evaluate")
    if unserved is not None:
        return PromotionResult("skipped", f"not evaluated: {unserved}")
    return gate_and_move(orch, spec, base_dir, model, progress=progress, on_role=on_role)


def promote_model(orch: Any, model: ModelRow, alias: str, *, force: bool = False, reason: str = "",
                  progress: Progress | None = None, on_role: RoleListener = None) -> PromotionResult:
    """Promote a model by hand: through the gate of its run's spec when it has [eval] and [promote],
    directly when it has none or with ``force`` (the reason is recorded)."""
    from tuneops import models
    from tuneops.runs.orchestrator import spec_of

    with orch.store.read() as s:
        run = s.get(RunRow, model.run_id)
    spec = spec_of(run) if run is not None else None
    gated = spec is not None and spec.eval is not None and spec.promote is not None
    if gated and not force:
        assert spec is not None and spec.promote is not None
        from tuneops.runs.deploy import ensure_served

        unserved = ensure_served(orch, run)  # the gate's evals reach the model through its deployment
        if unserved is not None:
            return PromotionResult("refused", f"not promoted to {alias}: {unserved}", alias=alias,
                                   model=model.provider_model_id, rule="serving")
        spec = spec.model_copy(update={"promote": spec.promote.model_copy(update={"alias": alias})})
        return gate_and_move(orch, spec, Path(run.spec_path).parent, model,  # type: ignore[union-attr]
                             progress=progress, on_role=on_role)
    why = (f"forced: {reason}" if reason else "forced") if force else (reason or "no [eval]/[promote] in the spec")
    move = models.promote(orch.store, model.id or 0, alias, reason=why, actor=orch.actor)
    if move.action == "unchanged":
        return PromotionResult("unchanged", f"{move.alias} already points at {move.model}", alias=move.alias,
                               model=move.model, previous_model=move.previous_model)
    return PromotionResult("promoted", f"promoted {move.model} to {move.alias} ({why})", alias=move.alias,
                           model=move.model, previous_model=move.previous_model, notes=move.notes)
