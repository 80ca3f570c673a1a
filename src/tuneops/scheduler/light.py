"""A light tick: when nothing fires and no run or fire needs work, the whole pass runs without the ORM.

That is what nearly every one-minute tick finds: most jobs are quiet, a few are worked out again
(their files changed, or their hourly skip record is due) and skip again. Such a tick decides and
records through a bare DB-API connection (``deciding``), so a `tuneops schedule tick` process does not
import SQLAlchemy and the table models (0.6-1.1 s on a 2-CPU machine). Firing, re-scoring a model,
polling runs and settling fires need the ORM: then ``light_tick`` stops after deciding and the caller
runs the full ``tick`` from what was decided here.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from tuneops.scheduler import deciding
from tuneops.scheduler.facts import deployments_due, poll_due, runs_in_flight
from tuneops.scheduler.localcache import LocalCache
from tuneops.scheduler.report import TickReport
from tuneops.store.sql import Sql, marks
from tuneops.store.states import FIRE_ACTIVE_STATES


def light_tick(db: Sql, jobs_dir: Path, cache: LocalCache, now: datetime, *,
               actor: str) -> tuple[bool, TickReport, deciding.Pass]:
    """One tick when it needs no ORM: (True, its report, its pass); else (False, the report so far, the
    pass), for the full tick to go on from."""
    started = time.perf_counter()
    report = TickReport(at=now)
    step = deciding.work_out(db, jobs_dir, cache, now, report)
    if _busy(db, now) or any(v.needs_eval for vs in step.verdicts.values() for v in vs):
        return False, report, step
    t = time.perf_counter()
    decisions = deciding.decisions_for(db, step.facts, step.verdicts)
    report.timings["decide"] += time.perf_counter() - t
    if any(d.fire for d in decisions.values()):
        return False, report, step
    deciding.tally(report, step, decisions)
    deciding.record(db, step, decisions, report, actor=actor)
    report.in_flight = runs_in_flight(db)
    report.light = True
    report.seconds = time.perf_counter() - started
    return True, report, step


def _busy(db: Sql, now: datetime) -> bool:
    """Whether a run is due for a poll (sync), a deployment needs advancing or retiring, or a fire needs
    settling or taking over."""
    return poll_due(db, now) or deployments_due(db, now) or bool(
        db.rows(f"SELECT 1 FROM fire WHERE state IN ({marks(FIRE_ACTIVE_STATES)}) LIMIT 1", FIRE_ACTIVE_STATES))
