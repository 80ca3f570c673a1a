"""Four scheduler processes tick at once over 100 due jobs, on SQLite and on PostgreSQL: every due
decision fires exactly once (at the sandbox and in the ledger), and no process fails, "database is
locked" included."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from tuneops.store import open_store
from tuneops.store.scheduler_tables import FireRow
from tuneops.store.tables import AuditEventRow, RunRow

CREATE = "POST /v1/fine_tuning/jobs"


@pytest.mark.slow
def test_four_processes_fire_each_of_100_due_decisions_once(db_url: str, sandbox: object, requests_at,  # type: ignore[no-untyped-def]
                                                            tmp_path: Path, sched) -> None:
    jobs = tmp_path / "jobs"
    names = sched.write_tiny_jobs(jobs, 100)
    env = sched.cli_env(db_url, sandbox.url, tmp_path / ".tuneops")  # type: ignore[attr-defined]
    before, jobs_before = requests_at(CREATE), _jobs(sandbox)

    reports = _ticks_at_once(sched, 4, jobs, env, tmp_path)
    fired = Counter(f["job"] for r in reports for f in r["fired"])
    assert sorted(fired) == names and set(fired.values()) == {1}
    assert sum(1 for r in reports if r["fired"]) >= 2  # the work really was shared

    store = open_store(db_url)
    assert _jobs(sandbox) - jobs_before == 100, _why(store)  # jobs that exist at the provider
    assert requests_at(CREATE) - before == 100, _why(store)  # create calls it answered
    with store.read() as s:
        fires = s.execute(select(FireRow)).scalars().all()
        runs = s.execute(select(RunRow)).scalars().all()
        audited = s.execute(select(AuditEventRow.subject_id).where(AuditEventRow.action == "schedule.fire")).all()
    assert len(fires) == 100 and {f.job_name for f in fires} == set(names)
    assert all(len(json.loads(f.run_ids)) == 1 and f.state in ("submitted", "done") for f in fires)
    assert Counter(r.job_name for r in runs) == Counter(names)
    assert all(r.trigger.startswith("schedule fire_") and r.provider_job_id for r in runs)
    assert len(audited) == 100

    # A second round of ticks finds nothing new to fire: the runs are in flight, the keys are taken.
    again = [sched.start(["schedule", "tick", "--jobs", str(jobs), "--json"], env, tmp_path) for _ in range(2)]
    for p in again:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-3000:]
        assert json.loads(out)["fired"] == []
    assert requests_at(CREATE) - before == 100


def _ticks_at_once(sched, n: int, jobs: Path, env: dict[str, str], cwd: Path) -> list[dict]:  # type: ignore[no-untyped-def]
    """``n`` `tuneops schedule tick --json` processes started together: their reports, once each has exited 0
    without a traceback or "database is locked"."""
    procs = [sched.start(["schedule", "tick", "--jobs", str(jobs), "--json"], env, cwd) for _ in range(n)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (_, err) in zip(procs, results, strict=True):
        assert "database is locked" not in err and "Traceback" not in err, err[-3000:]
        assert p.returncode == 0, err[-3000:]
    return [json.loads(out) for out, _ in results]


def _jobs(sandbox: object) -> int:
    import httpx

    return int(httpx.get(f"{sandbox.admin_url}/stats", timeout=10).json()["jobs"])  # type: ignore[attr-defined]


def _why(store) -> str:  # type: ignore[no-untyped-def]
    """Run events that explain an extra create call (retries, reconciliation), for a failure message."""
    from tuneops.store.tables import RunEventRow

    with store.read() as s:
        rows = s.execute(select(RunEventRow.run_id, RunEventRow.kind, RunEventRow.message)
                         .where(RunEventRow.kind.in_(("retry", "note", "error")))).all()  # type: ignore[attr-defined]
        odd = s.execute(select(RunRow.id, RunRow.state).where(RunRow.state.in_(("unknown", "failed")))).all()
    return f"events: {[tuple(r) for r in rows][:20]}; odd runs: {[tuple(r) for r in odd][:20]}"


@pytest.mark.slow
def test_four_processes_recording_due_skips_record_each_once(db_url: str, sandbox: object, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                             sched) -> None:
    # The light tick (no ORM) records skips on its own connection: the same once-only rule holds.
    import sqlite3
    from datetime import timedelta

    from sqlalchemy import func, update

    from tuneops import audit
    from tuneops.clock import utcnow
    from tuneops.store.scheduler_tables import DecisionRow

    jobs = tmp_path / "jobs"
    rows = [{"messages": [{"role": "user", "content": f"ticket {k}"}, {"role": "assistant", "content": "billing"}]}
            for k in range(2)]
    for i in range(100):  # a yearly slot this test will not live to see: every decision is a skip
        sched.write_job(jobs, f"yearly-{i:03d}", 'cron = "0 0 1 1 *"', rows)
    env = sched.cli_env(db_url, sandbox.url, tmp_path / ".tuneops")  # type: ignore[attr-defined]
    first = sched.start(["schedule", "tick", "--jobs", str(jobs), "--json"], env, tmp_path)
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0 and json.loads(out)["recorded"] == 100, err[-3000:]
    # Two hours on (as far as the ledger and the local cache know): every skip is due for its hourly record.
    store = open_store(db_url)
    with store.write() as s:
        s.execute(update(DecisionRow).values(recorded_at=utcnow() - timedelta(hours=2)))
    with sqlite3.connect(tmp_path / ".tuneops" / "cache" / "scheduler.sqlite") as cache:
        cache.execute("DELETE FROM quiet")  # what this machine remembers, forgotten

    reports = _ticks_at_once(sched, 4, jobs, env, tmp_path)
    assert all(r["light"] and r["fired"] == [] and r["errors"] == [] for r in reports)
    assert sum(r["recorded"] for r in reports) == 100
    with store.read() as s:
        skips = s.execute(select(AuditEventRow.job_name, func.count()).where(AuditEventRow.action == "schedule.skip")
                          .group_by(AuditEventRow.job_name)).all()
    assert len(skips) == 100 and {n for _, n in skips} == {2}  # first sight, then the hourly record: once each
    assert audit.verify(store).ok
    store.close()
