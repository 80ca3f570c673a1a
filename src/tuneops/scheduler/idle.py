"""An idle tick: when every job is quiet and no run or fire needs work, the pass is over before it starts.

That is what a one-minute tick finds whenever no job's files, ledger rows or waited-for time changed and
no skip is due for its periodic record. Such a tick fires nothing, records nothing and polls nothing (see
``tick``: firing, recording, syncing and settling all need a job that is not quiet, a run due for a poll
or an active fire), so it is answered here with a handful of reads through a bare DB-API connection,
without importing SQLAlchemy and the table models (0.6-1.1 s of a `tuneops schedule tick` process on a
2-CPU machine). When anything needs doing, ``idle_tick`` returns None and the caller runs the full
``tick``, starting from the policies and survey read here.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from tuneops.scheduler import quiet
from tuneops.scheduler.localcache import LocalCache
from tuneops.scheduler.policy import JobPolicy, load_policies
from tuneops.scheduler.report import TickReport
from tuneops.store.reader import Reader
from tuneops.store.states import ACTIVE_RUN_STATES, FIRE_ACTIVE_STATES


def _marks(values: tuple[str, ...]) -> str:
    return ", ".join("?" * len(values))


def idle_tick(reader: Reader, jobs_dir: Path, cache: LocalCache,
              now: datetime) -> tuple[TickReport | None, list[JobPolicy], quiet.Survey]:
    """The report of a tick with nothing to do, or None when there is something (run the full tick: the
    policies and the survey are what it starts from)."""
    started = time.perf_counter()
    report = TickReport(at=now)
    policies = load_policies(jobs_dir, cache)
    report.timings["policies"] = time.perf_counter() - started
    report.jobs = len(policies)
    report.scheduled = sum(1 for p in policies if p.error is None and p.retrain is not None)
    t = time.perf_counter()
    found = quiet.survey(reader, cache, policies, now)
    report.timings["quiet"] = time.perf_counter() - t
    if set(found.until) != set(found.inputs):
        return None, policies, found
    # Work that is not about deciding: a run due for a poll (sync) or a fire to settle or take over.
    due = reader.rows(f"SELECT 1 FROM run WHERE state IN ({_marks(ACTIVE_RUN_STATES)}) AND "
                      "(next_poll_at IS NULL OR next_poll_at <= ?) LIMIT 1",
                      (*ACTIVE_RUN_STATES, reader.time_param(now)))
    fires = reader.rows(f"SELECT 1 FROM fire WHERE state IN ({_marks(FIRE_ACTIVE_STATES)}) LIMIT 1",
                        FIRE_ACTIVE_STATES)
    if due or fires:
        return None, policies, found
    report.quiet = report.skipped = len(found.inputs)
    report.in_flight = reader.rows(f"SELECT COUNT(*) FROM run WHERE state IN ({_marks(ACTIVE_RUN_STATES)})",
                                   ACTIVE_RUN_STATES)[0][0]
    report.seconds = time.perf_counter() - started
    return report, policies, found
