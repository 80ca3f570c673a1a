"""The work a fire starts: insert it once, admit and submit its runs, and once they finish, evaluate and
promote (``evals.flow.after_success``) and notify. Each step holds the fire's lease and can be redone
by another process after a crash: runs are found again by the fire id in their trigger.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from tuneops import audit
from tuneops.clock import new_id
from tuneops.errors import LeaseLost, TuneopsError
from tuneops.runs import crash
from tuneops.scheduler.context import MAX_ATTEMPTS, SchedulerContext
from tuneops.scheduler.facts import EvalFact, JobFacts
from tuneops.scheduler.journal import decision_details
from tuneops.scheduler.policy import JobPolicy
from tuneops.scheduler.triggers import Decision
from tuneops.store import queries
from tuneops.store.scheduler_tables import FIRE_ACTIVE_STATES, DecisionRow, FireRow
from tuneops.store.tables import RunRow


def _insert(dialect: str, model: Any) -> Any:
    """An INSERT that can say ON CONFLICT DO NOTHING, on either database."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(model.__table__)


def trigger_text(fire: FireRow) -> str:
    """The trigger a fire's runs carry (the fire id first: it finds them again after a crash)."""
    return f"schedule {fire.id} {fire.fire_key}: {fire.reason}"[:256]


def fire_once(ctx: SchedulerContext, decision: Decision, facts: JobFacts, now: datetime) -> FireRow | None:
    """Insert the fire for a firing decision; None if this key already fired or another retrain of the
    job started meanwhile (checked again under the job's row lock)."""
    p = facts.policy
    assert p.retrain is not None and decision.fire_key is not None and decision.rule is not None
    cooldown = timedelta(hours=p.retrain.cooldown_hours)
    slot = next((v.slot for v in decision.verdicts if v.rule == "cron" and v.fire), None)
    with ctx.store.write() as s:
        mem = s.execute(select(DecisionRow).where(DecisionRow.job_name == p.name)  # type: ignore[arg-type]
                        .with_for_update()).scalars().first()
        if mem is not None and mem.last_fired_at is not None and now < mem.last_fired_at + cooldown:
            return None
        busy = s.execute(select(FireRow.id).where(FireRow.job_name == p.name,  # type: ignore[arg-type]
                                                  FireRow.state.in_(FIRE_ACTIVE_STATES))).first()  # type: ignore
        if busy is not None:
            return None
        fire = FireRow(id=new_id("fire"), job_name=p.name, fire_key=decision.fire_key, rule=decision.rule,
                       reason=decision.reason, spec_path=p.path, state="claimed", providers=json.dumps(p.providers),
                       actor=ctx.actor, attempts=1, lease_owner=ctx.owner, lease_expires_at=now + ctx.ttl,
                       created_at=now, updated_at=now)
        values = fire.model_dump()
        done = s.execute(_insert(ctx.store.dialect, FireRow).values(**values)
                         .on_conflict_do_nothing(index_elements=["job_name", "fire_key"]))
        if not done.rowcount:  # type: ignore[attr-defined]
            return None
        if mem is None:
            mem = DecisionRow(job_name=p.name, first_seen_at=now)
        mem.outcome, mem.rule, mem.code, mem.reason = "fire", decision.rule, decision.code[:512], decision.reason
        mem.fire_key = mem.last_fire_key = decision.fire_key
        mem.recorded_at = mem.last_fired_at = now
        mem.last_cron_slot = slot or mem.last_cron_slot
        s.add(mem)
        audit.append(s, "schedule.fire", "job", p.name, job_name=p.name, actor=ctx.actor, at=now,
                     details={**decision_details(decision), "trigger": fire.id})
    crash.point("scheduler-after-fire")
    return fire


def fire_runs(ctx: SchedulerContext, fire: FireRow) -> list[RunRow]:
    """The runs a fire admitted (found by the fire id in their trigger)."""
    with ctx.store.read() as s:
        stmt = (select(RunRow).where(RunRow.job_name == fire.job_name,  # type: ignore[arg-type]
                                     RunRow.created_at >= fire.created_at,  # type: ignore[operator]
                                     RunRow.trigger.like(f"schedule {fire.id} %"))  # type: ignore[attr-defined]
                .order_by(RunRow.created_at))
        return list(s.execute(stmt).scalars())


def _update(ctx: SchedulerContext, fire_id: str, **values: Any) -> None:
    values.setdefault("updated_at", ctx.clock())
    with ctx.store.write() as s:
        s.execute(update(FireRow).where(FireRow.id == fire_id).values(**values))  # type: ignore[arg-type]


def _payload(fire: FireRow, **more: Any) -> dict[str, Any]:
    return {"job": fire.job_name, "fire_id": fire.id, "fire_key": fire.fire_key, "rule": fire.rule,
            "reason": fire.reason, **more}


def submit_fire(ctx: SchedulerContext, fire: FireRow, policy: JobPolicy | None) -> FireRow:
    """Admit and submit a claimed fire's runs (one per retrain provider); refuse it if none can start."""
    from tuneops import spec as specmod

    with ctx.keeper.fire(fire.id):
        runs = fire_runs(ctx, fire)
        run_ids = [r.id for r in runs]
        have = {r.provider for r in runs}
        refusals: list[str] = []
        try:
            loaded = specmod.load(fire.spec_path)
        except TuneopsError as exc:
            loaded, refusals = None, [str(exc)]
        for provider in json.loads(fire.providers) if loaded is not None else ():
            if provider in have:
                continue
            if fire.id in ctx.keeper.lost:
                raise LeaseLost(f"fire {fire.id}: another scheduler took over its lease; leaving it to that one")
            if loaded.spec.retrain is not None and loaded.spec.retrain.require_pilot:
                run_ids += _piloted(ctx, fire, loaded, provider, refusals)
                _update(ctx, fire.id, run_ids=json.dumps(run_ids))
                continue
            try:
                run = ctx.orch.admit(loaded, provider=None if provider == loaded.spec.model.provider else provider,
                                     trigger=trigger_text(fire))
            except TuneopsError as exc:  # budget, data, credentials: a refusal, with the reason
                refusals.append(f"{provider}: {exc}")
                continue
            run_ids.append(run.id)
            _update(ctx, fire.id, run_ids=json.dumps(run_ids))
            crash.point("scheduler-after-admit")
            with contextlib.suppress(TuneopsError):  # the run stays admitted; a later sync creates its job
                ctx.orch.advance(run)
        now = ctx.clock()
        if run_ids:
            _update(ctx, fire.id, state="submitted", run_ids=json.dumps(run_ids), lease_owner=None,
                    lease_expires_at=None, message="; ".join(refusals) or None)
            return replace_fire(fire, state="submitted", run_ids=json.dumps(run_ids))
        message = "; ".join(refusals) or "no provider to run on"
        with ctx.store.write() as s:
            s.execute(update(FireRow).where(FireRow.id == fire.id).values(  # type: ignore[arg-type]
                state="refused", outcome="refused", message=message, finished_at=now, updated_at=now,
                lease_owner=None, lease_expires_at=None))
            audit.append(s, "schedule.refused", "job", fire.job_name, job_name=fire.job_name, actor=ctx.actor,
                         at=now, details={"fire_key": fire.fire_key, "rule": fire.rule, "trigger": fire.id,
                                          "error_message": message[:1000]})
        ctx.notify(policy, "refusal", _payload(fire, stage="admission", message=message[:2000]))
        return replace_fire(fire, state="refused", outcome="refused", message=message)


def _piloted(ctx: SchedulerContext, fire: FireRow, loaded: Any, provider: str, refusals: list[str]) -> list[str]:
    """The policy requires a pilot: run it to the end (the lease keeper holds the fire meanwhile) and
    submit the full run only if its gate passes; the runs it started, pilot first."""
    from tuneops.runs.pilot import submit_with_pilot

    try:
        result = submit_with_pilot(ctx.orch, loaded, provider=None if provider == loaded.spec.model.provider
                                   else provider, trigger=trigger_text(fire), interval=0.5)
    except TuneopsError as exc:
        refusals.append(f"{provider}: {exc}")
        return []
    if result.full is None:
        refusals.append(f"{provider}: {result.message}")
        return [result.pilot.id]
    return [result.pilot.id, result.full.id]


def replace_fire(fire: FireRow, **values: Any) -> FireRow:
    """A copy of a fire row with some fields changed (rows are not shared between transactions)."""
    return FireRow(**{**fire.model_dump(), **values})


def _loaded_for(run: RunRow) -> Any:
    """The exact spec a run was admitted with, located where its file was (for relative eval paths)."""
    from tuneops.runs.orchestrator import spec_of
    from tuneops.spec import LoadedSpec

    return LoadedSpec(spec=spec_of(run), path=Path(run.spec_path), sha256=run.spec_sha256)


def settle_fire(ctx: SchedulerContext, fire: FireRow, policy: JobPolicy | None) -> FireRow:
    """After a fire's runs finished: evaluate and promote each new model, notify, and close the fire."""
    from tuneops.evals.flow import after_success

    with ctx.keeper.fire(fire.id):
        ids = json.loads(fire.run_ids)
        with ctx.store.read() as s:
            runs = [queries.get_run(s, rid) for rid in ids]
        if any(r.state not in queries.TERMINAL_STATES for r in runs):
            _update(ctx, fire.id, state="submitted", lease_owner=None, lease_expires_at=None)
            return fire
        outcomes: list[str] = []
        messages: list[str] = []
        for run in runs:
            base = _payload(fire, run_id=run.id, provider=run.provider)
            if run.state != "succeeded":
                ctx.notify(policy, "failure", {**base, "state": run.state, "message": (run.error_message or "")[:2000]})
                outcomes.append(run.state)
                messages.append(f"run {run.id} {run.state}")
                continue
            ctx.notify(policy, "success", {**base, "model": run.model_id})
            crash.point("scheduler-during-settle")
            result = after_success(ctx.orch, _loaded_for(run), run)
            outcomes.append(result.status)
            messages.append(result.message)
            if result.status == "promoted":
                ctx.notify(policy, "promotion", {**base, "model": result.model, "alias": result.alias,
                                                 "previous_model": result.previous_model, "scores": result.scores,
                                                 "message": result.message})
            elif result.status == "refused":
                ctx.notify(policy, "refusal", {**base, "stage": "promotion", "model": result.model,
                                               "alias": result.alias, "rule": result.rule, "scores": result.scores,
                                               "message": result.message})
        outcome = next((o for o in ("promoted", "refused", "unchanged", "skipped") if o in outcomes), "failed")
        if outcome == "skipped":
            outcome = "succeeded"
        now = ctx.clock()
        message = "; ".join(messages)
        with ctx.store.write() as s:
            s.execute(update(FireRow).where(FireRow.id == fire.id).values(  # type: ignore[arg-type]
                state="done", outcome=outcome, message=message, finished_at=now, updated_at=now,
                lease_owner=None, lease_expires_at=None))
            audit.append(s, "schedule.settled", "job", fire.job_name, job_name=fire.job_name, actor=ctx.actor,
                         at=now, details={"fire_key": fire.fire_key, "trigger": fire.id, "decision": outcome,
                                          "run_id": ids[0] if len(ids) == 1 else None, "reason": message[:2000]})
        return replace_fire(fire, state="done", outcome=outcome, message=message)


def give_up(ctx: SchedulerContext, fire: FireRow, error: str) -> None:
    """Record a fire whose work failed MAX_ATTEMPTS times as failed (its runs keep their own state)."""
    now = ctx.clock()
    with ctx.store.write() as s:
        s.execute(update(FireRow).where(FireRow.id == fire.id).values(  # type: ignore[arg-type]
            state="failed", outcome="error", message=error[:4000], finished_at=now, updated_at=now,
            lease_owner=None, lease_expires_at=None))
        audit.append(s, "schedule.failed", "job", fire.job_name, job_name=fire.job_name, actor=ctx.actor, at=now,
                     details={"fire_key": fire.fire_key, "trigger": fire.id,
                              "error_message": f"gave up after {MAX_ATTEMPTS} attempts: {error}"[:1000]})


def release_fire(ctx: SchedulerContext, fire: FireRow) -> None:
    """Let go of a fire after its work failed, so this or another process tries again on a later tick."""
    with ctx.store.write() as s:
        s.execute(update(FireRow).where(FireRow.id == fire.id, FireRow.lease_owner == ctx.owner)  # type: ignore
                  .values(lease_owner=None, lease_expires_at=None, updated_at=ctx.clock()))


def rescore(ctx: SchedulerContext, facts: JobFacts) -> JobFacts:
    """Score the job's current model on its current eval set (only one process at a time per job)."""
    from tuneops import models
    from tuneops import spec as specmod
    from tuneops.evals.flow import evaluate
    from tuneops.evals.runner import EvalConfig
    from tuneops.scheduler.leases import acquire
    from tuneops.store.tables import ModelRow

    assert facts.model is not None
    name = f"reeval:{facts.job}"
    if not acquire(ctx.store, name, ctx.owner, ttl=ctx.ttl):
        return facts
    with ctx.keeper.named(name):
        loaded = specmod.load(facts.policy.path)
        if loaded.spec.eval is None:
            return facts
        with ctx.store.read() as s:
            model = s.get(ModelRow, facts.model.id)
            target = models.target_for(s, model)  # type: ignore[arg-type]
        row = evaluate(ctx.orch, target, EvalConfig.from_section(loaded.spec.eval, loaded.base_dir))
    fact = EvalFact(row.id, row.set_sha256, row.examples, json.loads(row.scores), row.created_at)
    return replace(facts, eval=fact, eval_set_sha256=row.set_sha256)


__all__ = ["fire_once", "fire_runs", "give_up", "release_fire", "rescore", "settle_fire", "submit_fire",
           "trigger_text"]
