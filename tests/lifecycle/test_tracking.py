"""Following runs: metrics and checkpoints stored once, batched polling, serving deadlines shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tuneops import spec as specmod
from tuneops.cli import main
from tuneops.runs.orchestrator import Orchestrator, ProviderPool
from tuneops.store import open_store
from tuneops.store.lifecycle_tables import CheckpointRow, MetricPointRow
from tuneops.store.tables import RunEventRow
from tuneops.testing import another_intent


def _count(table: type) -> int:
    with open_store().read() as s:
        return s.exec(select(func.count()).select_from(table)).scalar_one()  # type: ignore[call-overload]


def test_metrics_events_and_checkpoints_are_stored_once_however_often_we_poll(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    run = json.loads(capsys.readouterr().out)
    counts = (_count(MetricPointRow), _count(CheckpointRow), _count(RunEventRow))
    assert counts[0] > 10 and counts[1] >= 1
    orch = Orchestrator(open_store(), ProviderPool())
    try:
        r = orch.get(run["id"])
        for _ in range(3):
            orch.sync(r)
    finally:
        orch.pool.close()
    assert (_count(MetricPointRow), _count(CheckpointRow), _count(RunEventRow)) == counts
    assert main(["runs", "show", run["id"]]) == 0
    out = capsys.readouterr().out
    assert "checkpoints" in out and "ckpt-step-" in out


def test_runs_list_warns_about_a_base_model_that_stops_serving_within_30_days(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    project.write_text(project.read_text().replace('base = "sandbox-mini"', 'base = "sandbox-legacy"'))
    assert main(["submit", str(project), "--watch", "--no-promote"]) == 0
    capsys.readouterr()
    assert main(["runs", "list"]) == 0
    out = capsys.readouterr().out
    assert "base model sandbox-legacy" in out and "stops serving" in out
    # The date came from the provider after the run finished: the trail says when the ledger learnt it.
    assert main(["audit", "log", "--action", "model.serving_dates", "--json"]) == 0
    [event] = json.loads(capsys.readouterr().out)
    assert event["job_name"] == "support-triage" and event["details"]["base_model"] == "sandbox-legacy"
    assert event["details"]["base_shutdown_at"] >= datetime.now(UTC).date().isoformat()


def test_sync_polls_many_runs_with_one_list_call_per_page(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuneops.sandbox import SandboxServer

    with SandboxServer(time_scale=0.001) as slow:  # jobs stay in flight
        monkeypatch.setenv("TUNEOPS_SANDBOX_URL", slow.url)
        orch = Orchestrator(open_store(), ProviderPool())
        try:
            loaded = specmod.load(project)
            for seed in range(8):  # eight intents: one run each
                orch.submit(another_intent(loaded, seed))
            done, calls = orch.sync_all(force=True)
        finally:
            orch.pool.close()
    assert len(done) == 8
    assert calls == {"list": 1, "get": 0}

