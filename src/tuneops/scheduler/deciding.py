"""Deciding, in plain SQL: policies -> quiet jobs -> facts -> every trigger's verdict -> decisions; then
recording the skips that are due and remembering the decisions that hold until something changes.

Both the full tick (``tick``) and the light one (``light``) go through here, on a bare DB-API
connection (``tuneops.store.sql``), so a tick that fires nothing never needs the ORM.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tuneops.scheduler import journal, quiet
from tuneops.scheduler.facts import Facts, gather
from tuneops.scheduler.localcache import LocalCache
from tuneops.scheduler.policy import JobPolicy, load_policies
from tuneops.scheduler.report import TickReport
from tuneops.scheduler.triggers import Decision, Verdict, decide, evaluate
from tuneops.store.sql import Sql

_PAIRS = 500  # (job, fire key) pairs per query


@dataclass
class Pass:
    """What deciding produced, for the rest of the tick."""

    now: datetime
    policies: list[JobPolicy]
    scheduled: set[str]  # jobs with a [retrain] policy
    tracked: set[str]  # those and broken specs (the trail says why a job stopped being considered)
    facts: Facts
    verdicts: dict[str, tuple[Verdict, ...]]
    quiet: set[str] = field(default_factory=set)
    survey: quiet.Survey | None = None  # read before the facts, when skipping quiet jobs


def work_out(db: Sql, jobs_dir: Path, cache: LocalCache, now: datetime, report: TickReport, *,
             skip_quiet: bool = True, memo: dict[str, Any] | None = None, cache_dir: Path | None = None,
             files: Any = None, hashes: Any = None) -> Pass:
    """Policies -> facts -> every trigger's verdict, for the jobs that are not quiet (all with
    ``skip_quiet=False``); jobs seen for the first time get their ``decision`` row."""
    # Deciding allocates a few objects per job and frees them all together; cyclic GC passes over
    # the process's whole heap meanwhile cost ~20% of a tick over 10,000 jobs, for nothing.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _work_out(db, jobs_dir, cache, now, report, skip_quiet, memo, cache_dir, files, hashes)
    finally:
        if gc_was_on:
            gc.enable()


def _work_out(db: Sql, jobs_dir: Path, cache: LocalCache, now: datetime, report: TickReport, skip_quiet: bool,
              memo: dict[str, Any] | None, cache_dir: Path | None, files: Any, hashes: Any) -> Pass:
    t = time.perf_counter()
    policies = load_policies(jobs_dir, cache, memo)
    report.timings["policies"] = time.perf_counter() - t
    report.jobs = len(policies)
    scheduled = {p.name for p in policies if p.error is None and p.retrain is not None}
    report.scheduled = len(scheduled)
    tracked = scheduled | {p.name for p in policies if p.error is not None}
    found, still = None, set()
    if skip_quiet:
        t = time.perf_counter()
        found = quiet.survey(db, cache, policies, now)
        still = found.quiet(now)
        report.timings["quiet"] = time.perf_counter() - t
    active = [p for p in policies if p.name not in still]
    if active:
        facts = gather(db, active, now, cache, snapshot_dir=cache_dir, files=files, hashes=hashes)
    else:  # every job quiet: nothing to read
        facts = Facts(now=now, jobs={}, month_spent_microusd=0)
    report.timings.update({f"facts.{k}": v for k, v in facts.timings.items()})
    t = time.perf_counter()
    journal.ensure_seen(db, sorted(j for j, f in facts.jobs.items() if j in tracked and f.memory is None), now)
    verdicts = {job: evaluate(f, now) for job, f in facts.jobs.items() if job in scheduled}
    report.timings["decide"] = time.perf_counter() - t
    report.quiet = len(still)
    return Pass(now, policies, scheduled, tracked, facts, verdicts, still, found)


def fired_keys(db: Sql, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of these (job, fire key) pairs already fired."""
    pairs = sorted(pairs)
    out: set[tuple[str, str]] = set()
    for i in range(0, len(pairs), _PAIRS):
        chunk = pairs[i:i + _PAIRS]
        rows = db.rows(f"SELECT job_name, fire_key FROM fire WHERE (job_name, fire_key) IN "
                       f"({', '.join(['(?, ?)'] * len(chunk))})", [v for pair in chunk for v in pair])
        out |= {(job, key) for job, key in rows}
    return out


def decisions_for(db: Sql, facts: Facts, verdicts: dict[str, tuple[Verdict, ...]]) -> dict[str, Decision]:
    """Every job's decision before the budget: its verdicts through the gates."""
    pairs = {(job, v.fire_key) for job, vs in verdicts.items() for v in vs if v.fire and v.fire_key}
    by_job: dict[str, set[str]] = {}
    for job, key in fired_keys(db, pairs) if pairs else ():
        by_job.setdefault(job, set()).add(key)
    return {job: decide(f, verdicts.get(job, ()), facts.now, by_job.get(job, ())) for job, f in facts.jobs.items()}


def tally(report: TickReport, step: Pass, decisions: dict[str, Decision]) -> None:
    """Count in ``report`` the skips (quiet ones included) and the firing triggers held back, by gate."""
    for d in decisions.values():
        if not d.fire and d.gate:
            report.held[d.gate] = report.held.get(d.gate, 0) + 1
    report.skipped = sum(1 for j, d in decisions.items() if j in step.tracked and not d.fire) + report.quiet


def record(db: Sql, step: Pass, decisions: dict[str, Decision], report: TickReport, *, actor: str) -> None:
    """Record the skips that are due, count them in ``report``, and remember what holds (when skipping
    quiet jobs)."""
    t = time.perf_counter()
    memories = {j: f.memory for j, f in step.facts.jobs.items() if f.memory is not None}
    skips = [d for j, d in decisions.items() if j in step.tracked and not d.fire]
    recorded = journal.record_skips(db, skips, memories, step.now, actor=actor)
    report.recorded = len(recorded)
    if step.survey is not None:
        _remember(db, step, decisions, set(recorded))
    report.timings["record"] = time.perf_counter() - t


def _remember(db: Sql, step: Pass, decisions: dict[str, Decision], recorded: set[str]) -> None:
    """Remember the decisions this tick worked out that stay the same until something changes.

    A job whose decision this tick recorded is remembered as of its own record (unless some other event
    named it meanwhile), so that record does not wake it on the next tick.
    """
    survey, now = step.survey, step.now
    assert survey is not None
    every = journal.record_every()
    own = quiet.sole_events(db, survey.head, recorded)
    worked_out = {}
    for job, d in decisions.items():
        if job not in survey.inputs:
            continue
        memory, seq = step.facts.jobs[job].memory, survey.head.seq
        if job in own:
            memory = journal.after_record(memory, d, now) if memory else None
            seq = own[job]
        worked_out[job] = (survey.inputs[job], quiet.stable_until(d, memory, now, every), seq)
    survey.memory.remember(survey.head, worked_out, now)
