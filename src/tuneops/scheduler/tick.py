"""One scheduler pass: gather facts -> evaluate triggers -> fire (once) -> submit -> advance runs in
flight -> evaluate and promote after the ones that finished.

Any number of processes may tick at once over the same jobs and ledger: a decision fires only when
its fire key is inserted, and the follow-up work is claimed with leases (see ``leases``).
"""

from __future__ import annotations

import gc
import json
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, tuple_

from tuneops.errors import LeaseLost, TuneopsError
from tuneops.scheduler import journal, work
from tuneops.scheduler.context import MAX_ATTEMPTS, SchedulerContext
from tuneops.scheduler.facts import ACTIVE_RUN_STATES, Facts, gather
from tuneops.scheduler.leases import acquire, claim_fires
from tuneops.scheduler.policy import JobPolicy, load_policies
from tuneops.scheduler.report import TickReport
from tuneops.scheduler.triggers import Decision, Verdict, decide, evaluate, with_budget
from tuneops.store import queries
from tuneops.store.scheduler_tables import FIRE_ACTIVE_STATES, FireRow
from tuneops.store.tables import RunRow

SYNC_LEASE = "sync"


def fired_keys(ctx: SchedulerContext, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (job, fire key) pairs already fired."""
    pairs = list(pairs)
    out: set[tuple[str, str]] = set()
    with ctx.store.read() as s:
        for i in range(0, len(pairs), 1000):
            stmt = select(FireRow.job_name, FireRow.fire_key).where(
                tuple_(FireRow.job_name, FireRow.fire_key).in_(pairs[i:i + 1000]))
            out |= {(j, k) for j, k in s.execute(stmt)}
    return out


def decisions_for(ctx: SchedulerContext, facts: Facts, verdicts: dict[str, tuple[Verdict, ...]]) -> dict[str, Decision]:
    """Every job's decision before the budget: its verdicts through the gates."""
    pairs = {(job, v.fire_key) for job, vs in verdicts.items() for v in vs if v.fire and v.fire_key}
    by_job: dict[str, set[str]] = {}
    for job, key in fired_keys(ctx, pairs) if pairs else ():
        by_job.setdefault(job, set()).add(key)
    return {job: decide(f, verdicts.get(job, ()), facts.now, by_job.get(job, ())) for job, f in facts.jobs.items()}


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


@dataclass
class _Pass:
    """What deciding produced, for the rest of the tick."""

    facts: Facts
    policies: list[JobPolicy]
    verdicts: dict[str, tuple[Verdict, ...]]
    tracked: set[str]
    quiet: set[str] = field(default_factory=set)
    survey: Any = None  # quiet.Survey, read before the facts, when skipping quiet jobs


def _decide(ctx: SchedulerContext, now: datetime, report: TickReport) -> _Pass:
    """Policies -> facts -> every trigger's verdict (for the jobs that are not quiet)."""
    t = time.perf_counter()
    policies, ctx.policies = ctx.policies, None
    if policies is None:
        policies = load_policies(ctx.jobs_dir, ctx.cache, ctx.policy_memo)
    report.timings["policies"] = time.perf_counter() - t
    report.jobs = len(policies)
    scheduled = {p.name for p in policies if p.error is None and p.retrain is not None}
    report.scheduled = len(scheduled)
    # Broken specs are tracked too, so the trail says why a job stopped being considered.
    tracked = scheduled | {p.name for p in policies if p.error is not None}
    step = _Pass(facts=None, policies=policies, verdicts={}, tracked=tracked)  # type: ignore[arg-type]
    if ctx.skip_quiet:
        t = time.perf_counter()
        step.survey, ctx.survey = ctx.survey, None
        if step.survey is None:
            from tuneops.scheduler.quiet import survey
            from tuneops.store.reader import of_store

            with of_store(ctx.store) as reader:
                step.survey = survey(reader, ctx.cache, policies, now)
        step.quiet = step.survey.quiet(now)
        report.timings["quiet"] = time.perf_counter() - t
    files, hashes = ctx.file_states()
    active = [p for p in policies if p.name not in step.quiet]
    step.facts = gather(ctx.store, active, now, ctx.cache, snapshot_dir=ctx.cache_dir, files=files, hashes=hashes)
    report.timings.update({f"facts.{k}": v for k, v in step.facts.timings.items()})
    t = time.perf_counter()
    journal.ensure_seen(ctx.store, sorted(j for j, f in step.facts.jobs.items()
                                          if j in tracked and f.memory is None), now)
    step.verdicts = {job: evaluate(f, now) for job, f in step.facts.jobs.items() if job in scheduled}
    report.timings["decide"] = time.perf_counter() - t
    return step


def _remember(ctx: SchedulerContext, step: _Pass, decisions: dict[str, Decision], recorded: set[str],
              now: datetime) -> None:
    """Remember the decisions this tick worked out that stay the same until something changes.

    A job whose decision this tick recorded is remembered as of its own record (unless some other event
    named it meanwhile), so that record does not wake it on the next tick.
    """
    from tuneops.scheduler.quiet import sole_events, stable_until
    from tuneops.store.reader import of_store

    every = journal.record_every()
    survey = step.survey
    own: dict[str, int] = {}
    if recorded:
        with of_store(ctx.store) as reader:
            own = sole_events(reader, survey.head, recorded)
    worked_out = {}
    for job, d in decisions.items():
        if job not in survey.inputs:
            continue
        memory, seq = step.facts.jobs[job].memory, survey.head.seq
        if job in own:
            memory = journal.after_record(memory, d, now) if memory else None
            seq = own[job]
        worked_out[job] = (survey.inputs[job], stable_until(d, memory, now, every), seq)
    survey.memory.remember(survey.head, worked_out, now)


def tick(ctx: SchedulerContext, *, submit: bool = True, advance: bool = True) -> TickReport:
    """One pass over every job spec in ``ctx.jobs_dir``."""
    started = time.perf_counter()
    now = ctx.clock()
    report = TickReport(at=now)
    # Deciding allocates a few objects per job and frees them all together; cyclic GC passes over
    # the process's whole heap meanwhile cost ~20% of a tick over 10,000 jobs, for nothing.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        step = _decide(ctx, now, report)
    finally:
        if gc_was_on:
            gc.enable()
    facts, policies, verdicts, tracked = step.facts, step.policies, step.verdicts, step.tracked
    if submit:  # re-scoring calls providers: not with the collector off
        facts = _refresh(ctx, facts, verdicts, report)
    t = time.perf_counter()
    decisions = decisions_for(ctx, facts, verdicts)
    report.timings["decide"] += time.perf_counter() - t
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
    for d in decisions.values():
        if not d.fire and d.gate:
            report.held[d.gate] = report.held.get(d.gate, 0) + 1
    report.quiet = len(step.quiet)
    report.skipped = sum(1 for j, d in decisions.items() if j in tracked and not d.fire) + report.quiet
    t = time.perf_counter()
    memories = {j: f.memory for j, f in facts.jobs.items() if f.memory is not None}
    skips = [d for j, d in decisions.items() if j in tracked and not d.fire]
    recorded = journal.record_skips(ctx.store, skips, memories, now, actor=ctx.actor) if submit else []
    report.recorded = len(recorded)
    if submit and step.survey is not None:
        _remember(ctx, step, decisions, set(recorded), now)
    report.timings["record"] = time.perf_counter() - t
    if advance and submit:
        t = time.perf_counter()
        report.synced = sync(ctx, report)
        settle(ctx, report, {p.name: p for p in policies})
        report.timings["advance"] = time.perf_counter() - t
    with ctx.store.read() as s:
        report.in_flight = s.execute(select(func.count()).select_from(RunRow)
                                     .where(RunRow.state.in_(ACTIVE_RUN_STATES))).scalar_one()  # type: ignore
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
    """Advance unfinished runs once (one process at a time polls: the sync lease)."""
    now = ctx.clock()
    with ctx.store.read() as s:
        # Only when a poll is due (or a run awaits its provider job): sync_all reads every unfinished run.
        due = s.execute(select(RunRow.id).where(
            RunRow.state.in_(ACTIVE_RUN_STATES),  # type: ignore[attr-defined]
            or_(RunRow.next_poll_at.is_(None), RunRow.next_poll_at <= now)).limit(1)).first()  # type: ignore
    if due is None:
        return 0
    if not acquire(ctx.store, SYNC_LEASE, ctx.owner, ttl=ctx.ttl):
        return 0
    with ctx.keeper.named(SYNC_LEASE):
        try:
            done, _ = ctx.orch.sync_all()
        except Exception as exc:
            report.errors.append(f"sync failed: {exc}")
            return 0
    return len(done)


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
