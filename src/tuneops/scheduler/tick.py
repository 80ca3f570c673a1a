"""One scheduler pass: gather facts -> evaluate triggers -> fire (once) -> submit -> advance runs in
flight -> evaluate and promote after the ones that finished.

Any number of processes may tick at once over the same jobs and ledger: a decision fires only when
its fire key is inserted, and the follow-up work is claimed with leases (see ``leases``).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace

from sqlalchemy import select

from tuneops.errors import LeaseLost, TuneopsError
from tuneops.scheduler import deciding, work
from tuneops.scheduler.context import MAX_ATTEMPTS, SchedulerContext
from tuneops.scheduler.facts import Facts, deployments_due, poll_due, runs_in_flight
from tuneops.scheduler.leases import acquire, claim_fires
from tuneops.scheduler.policy import JobPolicy
from tuneops.scheduler.report import TickReport
from tuneops.scheduler.triggers import Verdict, evaluate, with_budget
from tuneops.store import queries
from tuneops.store.reader import of_store
from tuneops.store.scheduler_tables import FIRE_ACTIVE_STATES, FireRow
from tuneops.store.tables import RunRow

SYNC_LEASE = "sync"


def estimate(policy: JobPolicy) -> tuple[int | None, str]:
    """What one retrain of this job would cost now, summed over its providers (None: unknown), and how
    that was worked out; uses preflight, so only changed examples are checked again."""
    from tuneops import economics
    from tuneops import spec as specmod
    from tuneops.datasets.preflight import preflight

    try:
        loaded = specmod.load(policy.path)
        report = preflight(loaded, list(policy.providers))
    except TuneopsError as exc:
        return None, f"no estimate: {exc}"
    total: int | None = 0
    notes = []
    for provider in policy.providers:
        spec = loaded.spec.with_provider(provider)
        est = economics.estimate(spec, report.tokens, report.examples, provider)
        notes.append(f"{provider}: {economics.format_usd(est.microusd)} ({est.trained_tokens:,} trained tokens)")
        total = None if total is None or est.microusd is None else total + est.microusd
    return total, "; ".join(notes)


def _refresh(ctx: SchedulerContext, facts: Facts, verdicts: dict[str, tuple[Verdict, ...]],
             report: TickReport) -> Facts:
    """Score alias holders whose eval set changed (so the eval trigger sees a current score)."""
    jobs = dict(facts.jobs)
    for job, vs in verdicts.items():
        if not any(v.needs_eval for v in vs):
            continue
        try:
            fresh = work.rescore(ctx, jobs[job])
        except Exception as exc:  # a failed eval holds this job back, not the tick
            report.errors.append(f"{job}: scoring {jobs[job].model.provider_model_id if jobs[job].model else '?'} "
                                 f"failed: {exc}")
            continue
        if fresh is not jobs[job]:
            jobs[job] = fresh
            verdicts[job] = evaluate(fresh, facts.now)
            report.rescored.append(job)
    return replace(facts, jobs=jobs)


def tick(ctx: SchedulerContext, *, submit: bool = True, advance: bool = True) -> TickReport:
    """One pass over every job spec in ``ctx.jobs_dir`` (going on from ``ctx.begun`` when a light tick
    decided already)."""
    started = time.perf_counter()
    begun, ctx.begun = ctx.begun, None
    if begun is None:
        now = ctx.clock()
        report = TickReport(at=now)
        files, hashes = ctx.file_states()
        with of_store(ctx.store) as db:
            step = deciding.work_out(db, ctx.jobs_dir, ctx.cache, now, report, skip_quiet=ctx.skip_quiet,
                                     memo=ctx.policy_memo, cache_dir=ctx.cache_dir, files=files, hashes=hashes)
    else:
        report, step = begun
        now = step.now
    facts, verdicts = step.facts, step.verdicts
    if submit:  # re-scoring calls providers
        facts = _refresh(ctx, facts, verdicts, report)
    t = time.perf_counter()
    with of_store(ctx.store) as db:
        decisions = deciding.decisions_for(db, facts, verdicts)
    report.timings["decide"] = report.timings.get("decide", 0.0) + time.perf_counter() - t
    firing = [d for d in decisions.values() if d.fire]
    # Processes that tick together start from different jobs, so they rarely race for the same key.
    random.Random(ctx.owner).shuffle(firing)
    spent = facts.month_spent_microusd
    t = time.perf_counter()
    for d in firing:
        if ctx.stopping.is_set():
            break  # shutting down: what did not fire now fires on the next tick (its key is still free)
        f = facts.jobs[d.job]
        p = f.policy
        if p.budget_month_microusd is not None or p.budget_run_microusd is not None:
            est, _ = estimate(p)
            d = with_budget(d, est, spent, p.budget_month_microusd, p.budget_run_microusd)
            decisions[d.job] = d
            if not d.fire:
                continue
        if not submit:
            continue
        try:
            fire = work.fire_once(ctx, d, f, now)
        except Exception as exc:
            report.errors.append(f"{d.job}: recording the fire failed: {exc}")
            continue
        if fire is None:
            continue  # another process fired it (or another retrain of the job) a moment ago
        spent += d.estimate_microusd or 0
        report.fired.append({"job": d.job, "fire_id": fire.id, "fire_key": d.fire_key, "rule": d.rule,
                             "reason": d.reason})
        ctx.notify(p, "fire", {"job": d.job, "fire_id": fire.id, "fire_key": d.fire_key, "rule": d.rule,
                               "reason": d.reason, "providers": list(p.providers),
                               "estimate_microusd": d.estimate_microusd})
        _submit(ctx, fire, p, report)
    report.timings["fire"] = time.perf_counter() - t
    deciding.tally(report, step, decisions)
    if submit:
        with of_store(ctx.store) as db:
            deciding.record(db, replace(step, facts=facts), decisions, report, actor=ctx.actor)
    if advance and submit:
        t = time.perf_counter()
        report.synced = sync(ctx, report)
        settle(ctx, report, {p.name: p for p in step.policies})
        report.timings["advance"] = time.perf_counter() - t
    with of_store(ctx.store) as db:
        report.in_flight = runs_in_flight(db)
    report.seconds = time.perf_counter() - started
    return report


def _submit(ctx: SchedulerContext, fire: FireRow, policy: JobPolicy | None, report: TickReport) -> None:
    try:
        done = work.submit_fire(ctx, fire, policy)
    except LeaseLost as exc:
        report.errors.append(str(exc))
        return
    except Exception as exc:  # the fire keeps its lease until it expires or this process ends
        report.errors.append(f"{fire.job_name}: submitting fire {fire.id} failed: {exc}")
        work.release_fire(ctx, fire)
        return
    if done.state == "refused":
        report.refused.append({"job": fire.job_name, "fire_id": fire.id, "message": done.message})


def sync(ctx: SchedulerContext, report: TickReport) -> int:
    """Advance unfinished runs and deployments once (one process at a time: the sync lease)."""
    now = ctx.clock()
    with of_store(ctx.store) as db:
        due, serving = poll_due(db, now), deployments_due(db, now)
    if not (due or serving):  # sync_all reads every unfinished run: only when one is due for a poll
        return 0
    if not acquire(ctx.store, SYNC_LEASE, ctx.owner, ttl=ctx.ttl):
        return 0
    done: list[object] = []
    with ctx.keeper.named(SYNC_LEASE):
        if due:
            try:
                done, _ = ctx.orch.sync_all()
            except Exception as exc:
                report.errors.append(f"sync failed: {exc}")
        if serving:
            advance_deployments(ctx, report)
    return len(done)


def advance_deployments(ctx: SchedulerContext, report: TickReport) -> None:
    """Bring deployments that are coming up or going away forward, and undeploy those past their time."""
    from tuneops.runs.deploy import Deployer

    try:
        for row in Deployer(ctx.orch).sync_all():
            report.deployments.append({"run_id": row.run_id, "deployment": row.name, "state": row.state})
    except Exception as exc:  # the next tick tries again; the deployment row says where it stands
        report.errors.append(f"deployments: {exc}")


def settle(ctx: SchedulerContext, report: TickReport, policies: dict[str, JobPolicy]) -> None:
    """Take up fires that need work: reap claims whose holder died, settle those whose runs finished."""
    with ctx.store.read() as s:
        active = s.execute(select(FireRow).where(FireRow.state.in_(FIRE_ACTIVE_STATES))  # type: ignore
                           ).scalars().all()
        ids = [rid for f in active for rid in json.loads(f.run_ids)]
        states = dict(s.execute(select(RunRow.id, RunRow.state).where(RunRow.id.in_(ids)))  # type: ignore
                      .all()) if ids else {}
    ready = []
    for f in active:
        runs = json.loads(f.run_ids)
        if f.state == "submitted" and not all(states.get(r) in queries.TERMINAL_STATES for r in runs):
            continue
        ready.append(f.id)
    if not ready:
        return
    for fire in claim_fires(ctx.store, ctx.owner, FIRE_ACTIVE_STATES, ttl=ctx.ttl,
                            now=ctx.clock(), ids=ready):
        policy = policies.get(fire.job_name)
        if fire.attempts > MAX_ATTEMPTS:
            work.give_up(ctx, fire, fire.message or "repeated failures")
            report.errors.append(f"{fire.job_name}: fire {fire.id} given up after {MAX_ATTEMPTS} attempts")
            continue
        if fire.state == "claimed":  # its process died before submitting: finish the job for it
            report.reaped.append(fire.id)
            _submit(ctx, fire, policy, report)
            continue
        try:
            done = work.settle_fire(ctx, fire, policy)
        except Exception as exc:
            report.errors.append(f"{fire.job_name}: settling fire {fire.id} failed: {exc}")
            work.release_fire(ctx, fire)
            continue
        if done.state == "done":
            report.settled.append({"job": fire.job_name, "fire_id": fire.id, "outcome": done.outcome,
                                   "message": done.message})
