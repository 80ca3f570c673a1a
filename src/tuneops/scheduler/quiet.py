"""Quiet jobs: jobs whose decision cannot have changed since a tick last worked it out, so a tick skips them.

A job's decision is a pure function of its facts and the time (see ``triggers``). Its facts come from
three places, each with a cheap way to tell that it did not change:

- its files (spec, training file, eval set): their sha256 / size and mtime, which the tick reads anyway;
- the ledger: every change to a job's runs, models, aliases, evals, fires and recorded decisions appends
  an audit event naming the job in the same transaction, so "no event for this job since sequence
  number N" means "no change since N" (one indexed range query over the newest events);
- the time: each trigger says when its verdict could next change on its own (the next cron slot, the
  day a model reaches its age limit, the start of a shutdown window); the next due record of an
  unchanged skip (``journal.due``) is such a time too.

A decision is remembered only when nothing in it fires (a firing trigger, one held back by a gate, or
one waiting for a fresh eval is worked out again on every tick), and for at most ``MAX_QUIET`` so that
anything outside those three sources (a snapshot manifest appearing in the local cache) is seen within
that time. The memory is the scheduler's local cache (per machine, per ledger); it is only an
accelerator: when it is missing, unreadable, or the ledger is not the one it was written against
(sequence numbers went back, the event at the remembered number has another hash), every job is
worked out again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tuneops.scheduler.localcache import LocalCache
from tuneops.scheduler.policy import JobPolicy

if TYPE_CHECKING:  # quiet is read before anything imports the ORM (see scheduler.light)
    from tuneops.scheduler.facts import Memory
    from tuneops.scheduler.triggers import Decision
    from tuneops.store.sql import Sql

# The longest a decision is reused without being worked out again. Longer than the hourly record of an
# unchanged skip (plus its spread of up to 25 %), so with the default record interval each job is worked
# out about once an hour, at its record, not twice.
MAX_QUIET = timedelta(hours=2)
# More new audit events than this since the last tick: reading which jobs they name costs more than
# working every job out again.
MAX_EVENTS = 50_000
_EPOCH = datetime(1970, 1, 1)


def _seconds(t: datetime) -> float:
    return (t - _EPOCH).total_seconds()


def ledger_id(reader: Sql) -> str:
    """What names a ledger in the cache: the hash of its first audit event (the same whichever URL reaches
    it, and unlike any other ledger's), or "empty"."""
    rows = reader.rows("SELECT hash FROM audit_event WHERE seq = 1")
    return str(rows[0][0]) if rows else "empty"


class _Stats:
    """File (size, mtime) as a short string, each path stat'ed once per tick."""

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, path: str | None) -> str:
        if not path:
            return "-"
        hit = self._seen.get(path)
        if hit is None:
            try:
                st = os.stat(path)
                hit = f"{st.st_size}:{st.st_mtime_ns}"
            except OSError:
                hit = "missing"
            self._seen[path] = hit
        return hit


def inputs(policies: Iterable[JobPolicy]) -> dict[str, str]:
    """Each job's file inputs as one string: spec digest (or its error), training file and eval set stats."""
    stat = _Stats()
    out = {}
    for p in policies:
        if p.error is not None:
            out[p.name] = f"{p.path}|error|{hashlib.sha256(p.error.encode()).hexdigest()[:16]}"
        else:
            out[p.name] = f"{p.path}|{p.spec_sha256}|{stat(p.train)}|{stat(p.eval_set)}"
    return out


@dataclass(frozen=True)
class LedgerMark:
    """The newest audit event a tick has seen: its sequence number and hash."""

    seq: int
    hash: str


def ledger_mark(reader: Sql) -> LedgerMark:
    """The chain head now (0 for an empty ledger)."""
    rows = reader.rows("SELECT seq, hash FROM audit_head")  # one row, or none before the first event
    return LedgerMark(int(rows[0][0]), str(rows[0][1])) if rows else LedgerMark(0, "")


def _events_by_job(reader: Sql, since: int, until: int | None = None) -> dict[str | None, tuple[int, int]]:
    """For each job named by audit events after ``since`` (up to ``until``): how many, and the newest's number
    (key None: events naming no job)."""
    sql = "SELECT job_name, COUNT(*), MAX(seq) FROM audit_event WHERE seq > ?"
    params: tuple[int, ...] = (since,)
    if until is not None:
        sql, params = sql + " AND seq <= ?", (since, until)
    return {name: (int(n), int(seq)) for name, n, seq in reader.rows(sql + " GROUP BY job_name", params)}


def latest_events(reader: Sql, since: int, now: LedgerMark) -> dict[str | None, int] | None:
    """The newest sequence number after ``since`` (up to ``now``) naming each job (None: events naming no
    job); None when there are so many that working every job out again is cheaper."""
    if now.seq - since > MAX_EVENTS:
        return None
    return {name: seq for name, (_, seq) in _events_by_job(reader, since, now.seq).items()}


def sole_events(reader: Sql, since: LedgerMark, jobs: set[str]) -> dict[str, int]:
    """Of ``jobs``, those named by exactly one audit event after ``since``, with that event's number (a tick
    that recorded a job's decision passes it: then the one event is its own, and nothing else happened)."""
    if not jobs:
        return {}
    return {name: seq for name, (n, seq) in _events_by_job(reader, since.seq).items()
            if name in jobs and n == 1}


def same_ledger(reader: Sql, mark: LedgerMark | None, now: LedgerMark) -> bool:
    """Whether the ledger is the one a remembered mark was taken on (its event there has that hash)."""
    if mark is None or mark.seq > now.seq:
        return False
    if mark.seq == 0 or mark == now:
        return True
    rows = reader.rows("SELECT hash FROM audit_event WHERE seq = ?", (mark.seq,))
    return bool(rows) and rows[0][0] == mark.hash


def stable_until(decision: Decision, memory: Memory | None, now: datetime, every: timedelta) -> datetime | None:
    """Until when this decision stays the same if the job's files and ledger rows do not change; None when
    it must be worked out again on the next tick."""
    from tuneops.scheduler.journal import due, next_due

    if decision.fire or decision.gate or any(v.needs_eval for v in decision.verdicts):
        return None
    if any(v.fire and v.fire_key not in decision.already for v in decision.verdicts):
        return None
    if due(decision, memory, now, every):
        return None  # recorded on this tick (its event wakes the job up) or still to be recorded
    until = min(now + MAX_QUIET, next_due(decision.job, memory, every))  # type: ignore[arg-type]
    for v in decision.verdicts:
        if v.recheck_at is not None:
            until = min(until, v.recheck_at)
    return until if until > now else None


class QuietJobs:
    """The remembered decisions of one ledger in the local cache.

    Each remembered decision carries the ledger's head sequence number read before its facts were: it
    holds while no audit event naming its job (or naming no job) comes after that number. Several
    processes may share the cache; each only adds decisions it worked out itself, so none of them can
    make another's decision look newer than its facts.
    """

    def __init__(self, cache: LocalCache, ledger: str):
        self.cache = cache
        self.ledger = ledger  # ledger_id

    def mark(self) -> LedgerMark | None:
        """The head seen by the tick that last wrote here (to tell that the ledger is still the same one)."""
        rows = self.cache.rows("quiet_mark", "seq, hash", "WHERE ledger = ?", (self.ledger,))
        return LedgerMark(int(rows[0][0]), str(rows[0][1])) if rows else None

    def remembered(self, now: datetime) -> dict[str, tuple[str, int, float]]:
        """Decisions whose time has not come: job -> (inputs, ledger sequence number they are as new as,
        until when they hold)."""
        t = _seconds(now)
        return {job: (ins, seq, until) for job, ins, seq, since, until in self.cache.rows(
            "quiet", "job, inputs, seq, since, until", "WHERE ledger = ?", (self.ledger,)) if since <= t < until}

    def remember(self, mark: LedgerMark, worked_out: Mapping[str, tuple[str, datetime | None, int]],
                 now: datetime) -> None:
        """After a tick: the jobs it worked out (inputs, stable until, the ledger sequence number their facts
        are as new as) and the ledger's head before them."""
        t = _seconds(now)
        keep = [(self.ledger, job, ins, seq, t, _seconds(until)) for job, (ins, until, seq) in worked_out.items()
                if until is not None]
        drop = [(self.ledger, job) for job, (_, until, _) in worked_out.items() if until is None]
        self.cache.write([
            ("DELETE FROM quiet WHERE ledger = ? AND job = ?", drop),
            ("INSERT OR REPLACE INTO quiet VALUES (?, ?, ?, ?, ?, ?)", keep),
            ("INSERT OR REPLACE INTO quiet_mark VALUES (?, ?, ?)", [(self.ledger, mark.seq, mark.hash)]),
        ])

    def forget(self) -> None:
        """Drop every remembered decision of this ledger."""
        self.cache.write([("DELETE FROM quiet WHERE ledger = ?", [(self.ledger,)]),
                          ("DELETE FROM quiet_mark WHERE ledger = ?", [(self.ledger,)])])


def quiet_jobs(reader: Sql, memory: QuietJobs, job_inputs: Mapping[str, str], now: datetime,
               head: LedgerMark) -> dict[str, float]:
    """Jobs whose remembered decision still holds (same inputs, no audit event since, its time not come),
    with the time (seconds since the epoch) it holds until."""
    if not same_ledger(reader, memory.mark(), head):
        memory.forget()
        return {}
    remembered = memory.remembered(now)
    if not remembered:
        return {}
    latest = latest_events(reader, min(seq for _, seq, _ in remembered.values()), head)
    if latest is None:
        return {}
    anonymous = latest.get(None, 0)
    return {job: until for job, (ins, seq, until) in remembered.items()
            if job_inputs.get(job) == ins and latest.get(job, 0) <= seq and anonymous <= seq}


@dataclass
class Survey:
    """What a tick finds out before it reads any fact: the ledger's head and which jobs are quiet."""

    head: LedgerMark
    memory: QuietJobs
    inputs: dict[str, str]
    until: dict[str, float]  # quiet jobs, and until when their decision holds

    def quiet(self, now: datetime) -> set[str]:
        """The jobs still quiet at ``now`` (a survey may be a moment older than the tick that uses it)."""
        t = _seconds(now)
        return {job for job, until in self.until.items() if t < until}


def survey(reader: Sql, cache: LocalCache, policies: Iterable[JobPolicy], now: datetime) -> Survey:
    """Survey the tracked jobs among ``policies`` (those with a [retrain] policy, or a spec error)."""
    job_inputs = inputs(p for p in policies if p.error is not None or p.retrain is not None)
    head = ledger_mark(reader)  # first: every later read is at least as new
    memory = QuietJobs(cache, ledger_id(reader))
    return Survey(head, memory, job_inputs, quiet_jobs(reader, memory, job_inputs, now, head))
