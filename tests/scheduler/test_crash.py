"""A scheduler process killed (SIGKILL) mid-run leaves no job stuck: the next process reaps its lease
and finishes the work, without a second run at the provider."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from sqlalchemy import select

from tuneops.store import open_store
from tuneops.store.scheduler_tables import FireRow
from tuneops.store.tables import RunRow

CREATE = "POST /v1/fine_tuning/jobs"


@pytest.mark.slow
@pytest.mark.parametrize("point", ["scheduler-after-fire", "scheduler-after-admit", "scheduler-during-settle"])
def test_another_process_reaps_the_lease_and_finishes(point: str, db_url: str, sandbox: object, requests_at,  # type: ignore[no-untyped-def]
                                                      tmp_path: Path, sched) -> None:
    jobs = tmp_path / "jobs"
    [name] = sched.write_tiny_jobs(jobs, 1)
    env = sched.cli_env(db_url, sandbox.url, tmp_path / ".tuneops")  # type: ignore[attr-defined]
    before = requests_at(CREATE)
    args = ["schedule", "run", "--once", "--poll", "0.3", "--jobs", str(jobs)]

    victim = sched.start(args, {**env, "TUNEOPS_CRASH_AT": point}, tmp_path)
    _, err = victim.communicate(timeout=600)
    assert victim.returncode == -signal.SIGKILL, err[-3000:]
    store = open_store(db_url)
    with store.read() as s:
        [fire] = s.execute(select(FireRow)).scalars().all()
    assert fire.state in ("claimed", "submitted") and fire.lease_owner is not None  # stuck with a dead holder

    rescuer = sched.start(args, env, tmp_path)
    out, err = rescuer.communicate(timeout=600)
    assert rescuer.returncode == 0, out[-2000:] + err[-3000:]

    with store.read() as s:
        [fire] = s.execute(select(FireRow)).scalars().all()
        runs = s.execute(select(RunRow)).scalars().all()
    assert (fire.job_name, fire.state, fire.outcome, fire.lease_owner) == (name, "done", "succeeded", None)
    assert [r.id for r in runs] == json.loads(fire.run_ids) and runs[0].state == "succeeded"
    assert requests_at(CREATE) - before == 1
