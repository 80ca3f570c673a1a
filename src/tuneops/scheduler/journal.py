"""Recording decisions: each job's latest decision in ``decision``, and decisions as audit events.

A fire is always recorded (with its fire, in one transaction, see ``tick``). A skip is recorded when
its reason changes (its stable code: numbers that drift every tick do not count) or, when it stays
the same, once per hour, so a one-minute tick over thousands of jobs does not flood the trail.
Recording takes the rows ``FOR UPDATE SKIP LOCKED`` and checks again, so two processes never record
the same decision twice. The first tick over many jobs writes many events at once; they are
appended to the hash chain in one batch (one head lock, one multi-row insert).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from tuneops import audit
from tuneops.scheduler.facts import Memory
from tuneops.scheduler.triggers import Decision
from tuneops.store import Store
from tuneops.store.audit_tables import HEAD_ID, AuditHeadRow
from tuneops.store.scheduler_tables import DecisionRow
from tuneops.store.tables import AuditEventRow

ENV_EVERY = "TUNEOPS_SCHEDULE_SKIP_AUDIT_S"
CODE_MAX = 512  # decision.code's column width
DEFAULT_EVERY = timedelta(hours=1)
_CHUNK = 2000


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


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event to append."""

    action: str
    subject_type: str
    subject_id: str
    job_name: str | None
    details: Mapping[str, Any]


def append_many(session: Session, events: Sequence[Event], *, actor: str, at: datetime) -> int:
    """Append events to the audit chain in one batch inside the caller's write transaction.

    The first goes through ``audit.append`` (which locks the chain head, creating it if missing);
    the rest are hashed with ``audit.event_hash`` and inserted together, then the head moves once.
    Payloads here are built by the scheduler from names, numbers and its own reasons; anything that
    can carry outside text (spec errors, provider messages) goes through ``audit.append`` instead.
    """
    if not events:
        return 0
    first = events[0]
    row = audit.append(session, first.action, first.subject_type, first.subject_id, job_name=first.job_name,
                       details=first.details, actor=actor, at=at)
    seq, prev = row.seq, row.hash
    rows = []
    for ev in events[1:]:
        unknown = set(ev.details) - audit.ALLOWED_DETAILS
        if unknown:
            raise ValueError(f"audit detail keys not allow-listed: {sorted(unknown)}")
        payload = audit.canonical({k: v for k, v in ev.details.items() if v is not None}).decode()
        seq += 1
        digest = audit.event_hash(prev, seq, at, actor, ev.action, ev.subject_type, ev.subject_id, ev.job_name,
                                  payload)
        rows.append({"seq": seq, "at": at, "actor": actor, "action": ev.action, "subject_type": ev.subject_type,
                     "subject_id": ev.subject_id, "job_name": ev.job_name, "details": payload,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    if rows:
        session.execute(insert(AuditEventRow), rows)
        session.execute(update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID)  # type: ignore[arg-type]
                        .values(seq=seq, hash=prev))
    return len(events)


def decision_details(d: Decision) -> dict[str, Any]:
    """The audit payload of a decision."""
    return {"decision": d.outcome, "rule": d.rule, "reason": d.reason[:2000], "fire_key": d.fire_key,
            "note": d.code[:500], "estimate_microusd": d.estimate_microusd}


def ensure_seen(store: Store, jobs: Sequence[str], now: datetime) -> None:
    """Give every job the scheduler sees for the first time its ``decision`` row (first seen now)."""
    if not jobs:
        return
    rows = [{"job_name": j, "first_seen_at": now, "code": "", "reason": ""} for j in jobs]
    with store.write() as s:
        # Another process may see the same new jobs at the same moment: its rows win, ours are dropped.
        s.execute(upsert(store.dialect, DecisionRow).on_conflict_do_nothing(), rows)


def upsert(dialect: str, model: Any) -> Any:
    """An INSERT that can say ON CONFLICT DO NOTHING, on either database."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    return dialect_insert(model.__table__)


def record_skips(store: Store, decisions: Sequence[Decision], memories: Mapping[str, Memory], now: datetime, *,
                 actor: str, every: timedelta | None = None) -> list[str]:
    """Record the skip decisions that are due (see ``due``); returns the jobs whose decision it recorded."""
    every = every or record_every()
    todo = {d.job: d for d in decisions if not d.fire and due(d, memories.get(d.job), now, every)}
    if not todo:
        return []
    table = DecisionRow.__table__  # type: ignore[attr-defined]
    names = sorted(todo)
    with store.write() as s:
        locked = []
        for i in range(0, len(names), _CHUNK):
            stmt = (select(table.c.job_name, table.c.first_seen_at, table.c.code, table.c.outcome, table.c.recorded_at,
                           table.c.last_fired_at, table.c.last_fire_key, table.c.last_cron_slot)
                    .where(table.c.job_name.in_(names[i:i + _CHUNK])).with_for_update(skip_locked=True))
            locked += list(s.execute(stmt))
        fresh = [todo[row[0]] for row in locked if due(todo[row[0]], Memory(*row[1:]), now, every)]
        if not fresh:
            return []
        s.execute(update(DecisionRow), [  # bulk UPDATE by primary key
            {"job_name": d.job, "outcome": "skip", "rule": d.rule, "code": d.code[:CODE_MAX], "reason": d.reason,
             "fire_key": None, "recorded_at": now} for d in fresh])
        plain = [d for d in fresh if not d.code.startswith("spec:")]
        outside = [d for d in fresh if d.code.startswith("spec:")]
        append_many(s, [Event("schedule.skip", "job", d.job, d.job, decision_details(d)) for d in plain],
                    actor=actor, at=now)
        for d in outside:  # spec errors quote the spec: audit.append scrubs anything secret-shaped
            audit.append(s, "schedule.skip", "job", d.job, job_name=d.job, details=decision_details(d),
                         actor=actor, at=now)
    return [d.job for d in fresh]
