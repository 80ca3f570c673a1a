"""Killing tuneops (SIGKILL) while it creates a local job: `tuneops sync` settles it, one job directory per run,
one training process per job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.providers.local.jobs import JobDir

pytestmark = [pytest.mark.local, pytest.mark.slow]


@pytest.mark.parametrize("boundary", ["after-upload", "local-job-written", "after-create"])
def test_submit_killed_during_create_is_reconciled_to_one_job_and_one_process(
        boundary: str, tmp_path: Path, tiny_project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tiny_project(steps=20, every=10, train=30)
    killed = subprocess.run([sys.executable, "-m", "tuneops", "submit", str(spec), "--no-promote"],
                            env={**os.environ, "TUNEOPS_CRASH_AT": boundary}, cwd=tmp_path, capture_output=True,
                            timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]

    assert main(["sync", "--no-promote", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    jobs = [JobDir(p.parent) for p in (tmp_path / ".tuneops" / "local" / "jobs").glob("*/job.json")]
    assert [j.name for j in jobs] == [run["provider_job_id"]]
    assert jobs[0].config()["idempotency_key"] == run["idempotency_key"]

    assert main(["runs", "watch", run["id"], "--interval", "0.5", "--no-promote"]) == 0
    capsys.readouterr()
    assert main(["runs", "show", run["id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "succeeded"
    assert main(["sync", "--no-promote", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    # One training process ever started for the job: its log holds one start.
    starts = [e for e in jobs[0].events_file.read_text().splitlines() if "training process" in e and "started" in e]
    assert len(starts) == 1 and len(list((tmp_path / ".tuneops" / "local" / "jobs").iterdir())) == 1
