"""Nothing wedges the ledger: a model id another run holds, write races, a full disk, a dropped table,
one provider without credentials, a run that cannot finish (abandon), and Ctrl-C in the middle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tuneops import registry
from tuneops import spec as specmod
from tuneops.cli import main
from tuneops.runs.orchestrator import Orchestrator, ProviderPool
from tuneops.store import open_store, queries
from tuneops.testing import FakeBackend, FakeProvider


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    return code, out, err


def _without_budget(project: Path) -> Path:
    text = project.read_text()
    project.write_text(text[:text.index("[budget]")])
    return project


def test_a_model_id_the_ledger_already_holds_fails_that_run_only(small_project: Path) -> None:
    backends = [FakeBackend(script=["running", "succeeded"]), FakeBackend(script=["running", "succeeded"])]
    undo = registry.register("fake", lambda config: FakeProvider(config, backend=backends[0]))
    loaded = specmod.load(_without_budget(small_project))
    store = open_store()
    try:
        first = Orchestrator(store, ProviderPool())
        run_a = first.submit(loaded, provider="fake")
        run_a = first.watch(run_a.id, interval=0)
        assert run_a.state == "succeeded"
        # The provider lost its state (a sandbox restarted without it) and hands out the same ids again.
        backends.reverse()
        second = Orchestrator(store, ProviderPool())
        run_b = second.submit(loaded, provider="fake")
        _, _, problems = second.sync_each(force=True)
        _, _, problems = second.sync_each(force=True)
    finally:
        undo()
    run_b = second.get(run_b.id)
    assert problems == []
    assert run_b.state == "failed" and run_b.error_code == "model_id_conflict"
    assert run_a.id in (run_b.error_message or "") and "--again" in (run_b.error_message or "")
    with store.read() as s:
        model = queries.model_for_run(s, run_a.id)
        assert model is not None and queries.model_for_run(s, run_b.id) is None


def test_one_provider_without_credentials_fails_its_runs_only(
        small_project: Path, sandboxes: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    other = small_project.with_name("openai-triage.toml")
    other.write_text(small_project.read_text().replace('name = "support-triage"', 'name = "openai-triage"')
                     .replace('provider = "sandbox"', 'provider = "openai"')
                     .replace('base = "sandbox-mini"', 'base = "gpt-4o-mini-2024-07-18"'))
    _without_budget(other)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key-000000")
    store = open_store()
    orch = Orchestrator(store, ProviderPool())
    openai_run = orch.admit(specmod.load(other))  # admitted; its job is created by the next sync
    orch.pool.close()
    monkeypatch.delenv("OPENAI_API_KEY")
    sandboxes.stop()
    sandboxes.time_scale = 0.02
    sandboxes.start()
    assert _run(["submit", str(small_project), "--no-promote"], capsys)[0] == 0
    code, out, err = _run(["sync", "--no-promote"], capsys)
    assert code == 1
    assert openai_run.id in err and "OPENAI_API_KEY" in err and "Other providers' runs were synced" in err
    synced = [line for line in out.splitlines()[1:] if line.strip()]  # piped: plain columns under a header
    assert len(synced) == 1 and "sandbox" in synced[0] and openai_run.id not in out
    with store.read() as s:
        assert queries.get_run(s, openai_run.id).state == "admitted"


def test_a_dropped_table_and_a_full_disk_name_the_run_and_what_to_do(
        small_project: Path, sandboxes: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    from sqlalchemy import event, text
    from sqlalchemy.exc import OperationalError

    sandboxes.stop()
    assert _run(["submit", str(small_project), "--no-promote"], capsys)[0] == 1  # admitted, waits
    sandboxes.start()
    store = open_store()
    with store.read() as s:
        [run] = queries.list_runs(s)

    def disk_full(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        # What SQLite answers when the disk has no room for the write (SQLITE_FULL).
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            raise OperationalError(statement, params, sqlite3.OperationalError("database or disk is full"))

    event.listen(store.engine, "before_cursor_execute", disk_full)
    orch = Orchestrator(store, ProviderPool())
    try:
        _, _, problems = orch.sync_each(force=True)
    finally:
        orch.pool.close()
    assert len(problems) == 1 and run.id in problems[0]
    assert "full" in problems[0] and "free disk space" in problems[0]

    with open_store().engine.begin() as conn:
        conn.execute(text("DROP TABLE run_event"))
    code, _, err = _run(["sync", "--no-promote"], capsys)
    assert code == 1 and run.id in err and "no such table: run_event" in err and "backup" in err


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_syncs_storing_the_same_metric_point_do_not_collide(db: str, request: pytest.FixtureRequest,
                                                               tmp_path: Path) -> None:
    from tuneops.clock import utcnow
    from tuneops.runs.problems import put_metric_point
    from tuneops.store.lifecycle_tables import MetricPointRow
    from tuneops.store.tables import RunRow

    url = str(tmp_path / "l.db") if db == "sqlite" else str(request.getfixturevalue("pg_db_url"))
    store = open_store(url)
    now = utcnow()
    with store.write() as s:
        s.add(RunRow(id="run_race", idempotency_key="tuneops-run_race", job_name="j", spec_sha256="x",
                     spec_json="{}", provider="sandbox", base_model="b", method="sft", state="running",
                     train_sha256="t", created_at=now, updated_at=now))
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with store.write() as s:
                put_metric_point(s, {"run_id": "run_race", "step": 5, "train_loss": 0.5}, update=False)
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    with store.write() as s:
        put_metric_point(s, {"run_id": "run_race", "step": 5, "train_loss": 0.4}, update=False)
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # the second writer now waits on the first's uncommitted row (or lock)
    thread.join(30)
    assert errors == []
    with store.read() as s:
        points = list(s.exec(select(MetricPointRow)).scalars())
    assert [(p.step, p.train_loss) for p in points] == [(5, 0.4)]


def test_abandon_cancels_the_provider_job_and_frees_the_intent(
        small_project: Path, sandboxes: Any, runs_in_ledger: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sandboxes.stop()
    sandboxes.time_scale = 0.01
    sandboxes.start()
    code, out, _ = _run(["submit", str(small_project), "--no-promote", "--json"], capsys)
    run = json.loads(out)
    code, out, _ = _run(["runs", "abandon", run["id"], "--reason", "wrong data, will fix"], capsys)
    assert code == 0 and f"cancelled provider job {run['provider_job_id']}" in out
    [row] = runs_in_ledger()
    assert (row.state, row.error_code) == ("cancelled", "abandoned")
    assert sandboxes.server.state.jobs[run["provider_job_id"]].status(time.time()) == "cancelled"
    code, out, _ = _run(["history", "--json"], capsys)
    [event] = [e for e in json.loads(out) if e["action"] == "run.abandoned"]
    assert event["details"]["reason"] == "wrong data, will fix"
    code, out, _ = _run(["submit", str(small_project), "--no-promote", "--json"], capsys)
    assert code == 0 and json.loads(out)["outcome"] == "new"
    code, _, err = _run(["runs", "abandon", run["id"], "--reason", "again"], capsys)
    assert code == 2 and "already cancelled" in err


def test_ctrl_c_during_submit_names_the_run_and_the_way_back(
        small_project: Path, sandboxes: Any, runs_in_ledger: Any, invariants: Any) -> None:
    from tuneops.sandbox import FaultConfig

    sandboxes.server.configure_faults(FaultConfig(rate_slow=1.0, slow_delay=20.0,
                                                  routes=["POST /v1/fine_tuning/jobs"]))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "tuneops", "submit", str(small_project), "--no-promote"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 60
    while sandboxes.requests("POST /v1/fine_tuning/jobs") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    sandboxes.server.configure_faults(FaultConfig())
    [run] = runs_in_ledger()
    assert proc.returncode == 130 and "Traceback" not in out + err
    assert f"interrupted: run {run.id} is submitting" in err
    assert f"tuneops runs cancel {run.id}" in err and f"tuneops submit {small_project}" in err
    # Reattaching finds the job the interrupted create made: one job, not two.
    assert main(["submit", str(small_project), "--no-promote"]) == 0
    [again] = runs_in_ledger()
    assert again.id == run.id and again.provider_job_id
    assert sum(len(j) for j in invariants(sandboxes).values()) == 1
