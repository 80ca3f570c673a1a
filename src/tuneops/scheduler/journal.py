"""Recording decisions: each job's latest decision in ``decision``, and decisions as audit events.

A fire is always recorded (with its fire, in one transaction, see ``tick``). A skip is recorded when
its reason changes (its stable code: numbers that drift every tick do not count) or, when it stays
the same, once per hour, so a one-minute tick over thousands of jobs does not flood the trail.
Recording takes the rows ``FOR UPDATE SKIP LOCKED`` and checks again, so two processes never record
the same decision twice. The first tick over many jobs writes many events at once; they are
appended to the hash chain in one batch (one head lock, one insert). All of it is plain SQL
(``tuneops.store.sql``), so a tick that only records skips never loads the ORM.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tuneops.audit import chain
from tuneops.audit.chain import Event
from tuneops.scheduler import facts
from tuneops.scheduler.facts import Memory
from tuneops.scheduler.triggers import Decision
from tuneops.store.sql import Sql

ENV_EVERY = "TUNEOPS_SCHEDULE_SKIP_AUDIT_S"
CODE_MAX = 512  # decision.code's column width
DEFAULT_EVERY = timedelta(hours=1)


def record_every() -> timedelta:
    """How often an unchanged skip is recorded again (``TUNEOPS_SCHEDULE_SKIP_AUDIT_S``, default 1 h)."""
    value = os.environ.get(ENV_EVERY)
    try:
        return timedelta(seconds=float(value)) if value else DEFAULT_EVERY
    except ValueError:
        return DEFAULT_EVERY


def _spread(job: str) -> float:
    """A fixed 0-25% per job, so hourly records of many jobs seen at once drift apart over the hour."""
    return (zlib.crc32(job.encode()) % 1000) / 4000


def due(decision: Decision, memory: Memory | None, now: datetime, every: timedelta) -> bool:
    """Whether a skip decision should be recorded now (pure)."""
    if memory is None or memory.code != decision.code or memory.outcome != decision.outcome:
        return True
    when = next_due(decision.job, memory, every)
    return when is None or now >= when


def next_due(job: str, memory: Memory | None, every: timedelta) -> datetime | None:
    """When an unchanged skip of this job is next recorded (None: at once)."""
    if memory is None or memory.recorded_at is None:
        return None
    return memory.recorded_at + every * (1 + _spread(job))


def after_record(memory: Memory, decision: Decision, now: datetime) -> Memory:
    """The job's memory once ``record_skips`` has recorded this skip at ``now``."""
    return replace(memory, code=decision.code[:CODE_MAX], outcome="skip", recorded_at=now)


def decision_details(d: Decision) -> dict[str, Any]:
    """The audit payload of a decision."""
    return {"decision": d.outcome, "rule": d.rule, "reason": d.reason[:2000], "fire_key": d.fire_key,
            "note": d.code[:500], "estimate_microusd": d.estimate_microusd}


def ensure_seen(db: Sql, jobs: Sequence[str], now: datetime) -> None:
    """Give every job the scheduler sees for the first time its ``decision`` row (first seen now)."""
    if not jobs:
        return
    with db.write():
        # Another process may see the same new jobs at the same moment: its rows win, ours are dropped.
        db.executemany("INSERT INTO decision (job_name, first_seen_at, code, reason) VALUES (?, ?, '', '') "
                       "ON CONFLICT DO NOTHING", [(j, db.time_param(now)) for j in jobs])


def record_skips(db: Sql, decisions: Sequence[Decision], memories: Mapping[str, Memory], now: datetime, *,
                 actor: str, every: timedelta | None = None) -> list[str]:
    """Record the skip decisions that are due (see ``due``); returns the jobs whose decision it recorded."""
    every = every or record_every()
    todo = {d.job: d for d in decisions if not d.fire and due(d, memories.get(d.job), now, every)}
    if not todo:
        return []
    with db.write():
        # Locked and read again: another process may have recorded some of them since ``memories`` was read.
        locked = facts.memories(db, sorted(todo), lock=True)
        fresh = [todo[job] for job, memory in locked.items() if due(todo[job], memory, now, every)]
        if not fresh:
            return []
        at = db.time_param(now)
        db.executemany("UPDATE decision SET outcome = 'skip', rule = ?, code = ?, reason = ?, fire_key = NULL, "
                       "recorded_at = ? WHERE job_name = ?",
                       [(d.rule, d.code[:CODE_MAX], d.reason, at, d.job) for d in fresh])
        chain.append(db, [Event("schedule.skip", "job", d.job, d.job, decision_details(d)) for d in fresh],
                     actor=actor, at=now)
    return [d.job for d in fresh]
