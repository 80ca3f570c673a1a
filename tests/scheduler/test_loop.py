"""`tuneops schedule run` as a long-running process: a health line and a health file per tick, and a
graceful stop on SIGTERM or SIGINT."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

CRON_ONLY = 'name = "nightly"\n[model]\nprovider = "sandbox"\nbase = "sandbox-mini"\n[data]\ntrain = "t.jsonl"\n' \
            '[retrain]\ncron = "0 3 * * *"\n'


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_loop_ticks_reports_its_health_and_stops_gracefully(sig: int, tmp_path: Path, sched) -> None:  # type: ignore[no-untyped-def]
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "nightly.toml").write_text(CRON_ONLY)
    (jobs / "t.jsonl").write_text("")
    health = tmp_path / "health.json"
    env = sched.cli_env(f"sqlite:///{tmp_path / 'l.db'}", "http://127.0.0.1:9/v1", tmp_path / ".tuneops")
    proc = sched.start(["schedule", "run", "--interval", "0.2", "--jobs", str(jobs), "--health-file", str(health)],
                       env, tmp_path)
    deadline = time.monotonic() + 120
    while not (health.exists() and json.loads(health.read_text())["tick"] >= 2):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the loop never ticked twice"
        time.sleep(0.1)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "tick 1: 1 job spec(s), 1 with a policy; fired 0" in out
    assert "stopped after" in out and "Traceback" not in err
    assert json.loads(health.read_text())["errors"] == []
