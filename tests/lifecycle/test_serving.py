"""Serving as a lifecycle step, driven through the CLI against FakeProvider (a model that answers only
through a deployment): submit, sync to succeeded, deploy, eval through it, promote, show, undeploy;
repeated, interrupted and refused as a user would meet it."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuneops import registry
from tuneops.cli import main
from tuneops.testing import FakeBackend, FakeProvider


def _servingflow() -> Any:
    if "servingflow" not in sys.modules:
        spec = importlib.util.spec_from_file_location("servingflow", Path(__file__).with_name("servingflow.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["servingflow"] = module
        spec.loader.exec_module(module)
    return sys.modules["servingflow"]


sf = _servingflow()


@pytest.fixture
def backend() -> Iterator[FakeBackend]:
    """A fake provider whose fine-tuned models answer only through a deployment."""
    shared = FakeBackend(serving_required=True)
    undo = registry.register("fake", lambda config: FakeProvider(config, backend=shared))
    yield shared
    undo()


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out + out.err


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    code, out = _cli(capsys, *args, "--json")
    assert code == 0, out
    return json.loads(out)


def _submit_and_sync(capsys: pytest.CaptureFixture[str], spec: Path, again: bool = False) -> str:
    # [serve] is not part of a run's intent: a changed [serve] table trains again only with --again.
    run = _json(capsys, "submit", str(spec), *(["--again", "--reason", "new [serve]"] if again else []))
    for _ in range(4):
        code, out = _cli(capsys, "sync")
        assert code == 0, out
    return run["id"]


def test_a_run_deploys_evals_through_the_deployment_promotes_and_undeploys(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    spec = sf.write_job(project, provider="fake", base="fake-base", serve={"mode": "on_demand"})
    run_id = _submit_and_sync(capsys, spec)
    shown = _json(capsys, "runs", "show", run_id)
    assert shown["state"] == "succeeded"
    dep = shown["deployment"]
    assert (dep["state"], dep["mode"], dep["hourly_cost_microusd"]) == ("deployed", "on_demand", 0)
    assert dep["name"] == "tuneops-" + run_id.replace("_", "-") and dep["endpoint"] == f"fakedep:{dep['name']}"
    assert shown["model"]["provider_deployment_id"] == dep["provider_deployment_id"]
    # Every eval call went through the deployment (the bare model id is refused by the fake).
    assert backend.calls["deploy"] == 1 and backend.calls["infer"] == sf.EVAL_EXAMPLES
    listed = _json(capsys, "models", "list")
    assert listed[0]["aliases"] == ["support-triage@production"]
    assert (listed[0]["deployment_state"], listed[0]["endpoint"]) == ("deployed", dep["endpoint"])

    # Deploying again is a no-op: same deployment, no provider call.
    code, out = _cli(capsys, "deploy", "support-triage@production")
    assert code == 0 and "deployed" in out and backend.calls["deploy"] == 1

    code, out = _cli(capsys, "undeploy", "support-triage@production", "--reason", "done testing")
    assert code == 0 and "undeployed" in out
    assert backend.calls["delete_deployment"] == 1
    after = _json(capsys, "runs", "show", run_id)
    assert after["deployment"]["state"] == "undeployed" and after["model"]["provider_deployment_id"] is None
    assert sf.audit_actions(_store()) == ["deployment.requested", "deployment.created", "deployment.deployed",
                                           "deployment.undeploying", "deployment.undeployed"]
    code, out = _cli(capsys, "undeploy", run_id)
    assert code != 0 and "no live deployment" in out and backend.calls["delete_deployment"] == 1
    code, out = _cli(capsys, "audit", "verify")
    assert code == 0, out


def _store() -> Any:
    from tuneops.store import open_store

    return open_store()


def test_hourly_hosting_needs_the_spec_or_a_flag_and_counts_against_the_budget(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[[price]]\nprovider = "fake"\nmodel = "*"\nmethod = "*"\nusd_per_mtok = "0"\n'
                      'source = "test"\nchecked = "2026-12-06"\n')
    monkeypatch.setenv("TUNEOPS_PRICING", str(prices))
    spec = sf.write_job(project, provider="fake", base="fake-base", serve={"mode": "none"},
                        budget={"per_month_usd": 100.0})
    run_id = _submit_and_sync(capsys, spec)
    assert backend.calls.get("deploy", 0) == 0  # [serve] mode = "none"

    code, out = _cli(capsys, "deploy", run_id, "--mode", "dedicated")
    assert code == 2 and "billed by the hour" in out and "--yes-hourly" in out
    code, out = _cli(capsys, "deploy", run_id, "--mode", "dedicated", "--yes-hourly")
    assert code == 3 and "[serve] hourly_usd" in out  # a budget and an unknown hourly price
    assert backend.calls.get("deploy", 0) == 0

    # The spec now states the price and an end: 48 h at $2.50/h = $120 is over $100 a month.
    sf.write_job(project, provider="fake", base="fake-base", serve={"mode": "dedicated", "hourly_usd": 2.5,
                                                                     "auto_undeploy_after": 48.0},
                 budget={"per_month_usd": 100.0})
    run_id = _submit_and_sync(capsys, spec, again=True)
    shown = _json(capsys, "runs", "show", run_id)
    assert shown["deployment"] is None  # refused at admission: nothing written, nothing started
    code, out = _cli(capsys, "deploy", run_id)
    assert code == 3 and "over budget.per_month_usd" in out and backend.calls.get("deploy", 0) == 0

    sf.write_job(project, provider="fake", base="fake-base", serve={"mode": "dedicated", "hourly_usd": 2.5,
                                                                     "auto_undeploy_after": 8.0},
                 budget={"per_month_usd": 100.0})
    run_id = _submit_and_sync(capsys, spec, again=True)
    dep = _json(capsys, "runs", "show", run_id)["deployment"]
    assert (dep["state"], dep["hourly_cost_microusd"], dep["estimate_microusd"]) == ("deployed", 2_500_000, 20_000_000)
    from datetime import datetime, timedelta

    from tuneops.store import spend

    with _store().read() as s:
        from tuneops.store.sql import of_session

        month = datetime.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        assert spend.month_spend_microusd(of_session(s), month) == 20_000_000  # training is free here



@pytest.mark.parametrize("point", ["before-deploy", "during-deploy"])
def test_a_crash_during_deploy_is_reconciled_to_exactly_one_deployment(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        point: str) -> None:
    spec = sf.write_job(project, provider="fake", base="fake-base", serve={"mode": "none"})
    run_id = _submit_and_sync(capsys, spec)
    sf.crash_at(monkeypatch, point)
    with pytest.raises(sf.Crash):
        main(["deploy", run_id, "--mode", "on_demand"])
    row = _json(capsys, "runs", "show", run_id)["deployment"]
    assert (row["state"], row["provider_deployment_id"]) == ("deploying", None)  # the ledger lost the answer
    assert len(backend.deployments) == (1 if point == "during-deploy" else 0)

    # The restarted process finds the deployment by its name instead of buying a second one.
    code, out = _cli(capsys, "deploy", run_id, "--mode", "on_demand")
    assert code == 0 and "deployed" in out, out
    assert len(backend.deployments) == 1 and backend.calls["deploy"] == 1
    assert backend.calls.get("find_deployment", 0) == 1
    row = _json(capsys, "runs", "show", run_id)["deployment"]
    assert row["state"] == "deployed" and row["provider_deployment_id"] == next(iter(backend.deployments))
    code, out = _cli(capsys, "audit", "verify")
    assert code == 0, out


def test_sync_undeploys_after_auto_undeploy_after_and_records_the_hosting_cost(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import timedelta

    from tuneops.clock import utcnow
    from tuneops.runs.deploy import Deployer
    from tuneops.runs.orchestrator import Orchestrator

    spec = sf.write_job(project, provider="fake", base="fake-base",
                        serve={"mode": "dedicated", "hourly_usd": 3.6, "auto_undeploy_after": 2.0})
    run_id = _submit_and_sync(capsys, spec)  # deployed on success (the spec asks for hourly hosting)
    code, out = _cli(capsys, "runs", "show", run_id)
    assert code == 0 and "deployment" in out and "deployed" in out and "$3.60/h" in out
    code, out = _cli(capsys, "sync")  # not due yet
    assert _json(capsys, "runs", "show", run_id)["deployment"]["state"] == "deployed"

    later = Orchestrator(_store(), clock=lambda: utcnow() + timedelta(hours=2, minutes=30))  # `sync` at 2.5 h
    try:
        [row] = Deployer(later).sync_all()
    finally:
        later.pool.close()
    assert row.state == "undeployed" and backend.calls["delete_deployment"] == 1
    dep = _json(capsys, "runs", "show", run_id)["deployment"]
    assert 9_000_000 <= dep["cost_microusd"] <= 9_010_000 and dep["estimate_microusd"] is None  # 2.5 h at $3.60
    code, out = _cli(capsys, "sync")  # nothing left to do: no second delete
    assert code == 0 and backend.calls["delete_deployment"] == 1


def test_schedule_tick_undeploys_a_deployment_past_its_time_for_a_user_who_never_runs_sync(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import timedelta

    from tuneops.clock import utcnow
    from tuneops.runs.deploy import deployment_for_run

    spec = sf.write_job(project, provider="fake", base="fake-base",
                        serve={"mode": "dedicated", "hourly_usd": 3.6, "auto_undeploy_after": 2.0})
    run_id = _submit_and_sync(capsys, spec)
    assert _json(capsys, "schedule", "tick")["deployments"] == []  # its two hours are not up
    assert _json(capsys, "runs", "show", run_id)["deployment"]["state"] == "deployed"

    store = _store()  # two and a half hours later, as far as the deployment is concerned
    with store.write() as s:
        row = deployment_for_run(s, run_id)
        assert row is not None and row.undeploy_after is not None
        row.undeploy_after = utcnow() - timedelta(minutes=30)
        s.add(row)
    store.close()
    report = _json(capsys, "schedule", "tick")
    assert [d["state"] for d in report["deployments"]] == ["undeployed"] and report["errors"] == []
    assert backend.calls["delete_deployment"] == 1
    assert _json(capsys, "runs", "show", run_id)["deployment"]["state"] == "undeployed"
    assert _json(capsys, "schedule", "tick")["deployments"] == []  # and only once
    assert backend.calls["delete_deployment"] == 1


def test_with_serve_mode_none_nothing_is_deployed_until_asked_and_promote_then_goes_through_it(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    spec = sf.write_job(project, provider="fake", base="fake-base", serve={"mode": "none"})
    run = _json(capsys, "submit", str(spec))
    code, out = _cli(capsys, "sync")
    code, out = _cli(capsys, "sync")
    code, out = _cli(capsys, "sync")
    assert code == 0 and "answers only through a deployment" in out and f"tuneops deploy {run['id']}" in out
    assert backend.calls.get("infer", 0) == 0 and backend.calls.get("deploy", 0) == 0

    code, out = _cli(capsys, "models", "promote", run["id"], "--alias", "production")
    assert code == 1 and "not promoted" in out and backend.calls.get("infer", 0) == 0

    code, out = _cli(capsys, "deploy", run["id"], "--mode", "on_demand")
    assert code == 0 and "deployed" in out
    code, out = _cli(capsys, "models", "promote", run["id"], "--alias", "production")
    assert code == 0 and "promoted" in out, out
    assert backend.calls["infer"] == sf.EVAL_EXAMPLES and backend.calls["deploy"] == 1


def test_a_deploy_whose_answer_and_lookup_both_fail_is_settled_by_the_next_sync(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.retry import RetryPolicy
    from tuneops.runs.deploy import Deployer
    from tuneops.runs.orchestrator import Orchestrator

    spec = sf.write_job(project, provider="fake", base="fake-base", serve={"mode": "none"})
    run_id = _submit_and_sync(capsys, spec)
    backend.failures["deploy"] = [(503, None)] * 2  # the deployment is made, the answers are lost
    backend.failures["find_deployment"] = [(503, None)] * 2  # and looking it up fails too
    orch = Orchestrator(_store(), policy=RetryPolicy(attempts=2, total_seconds=1, base_seconds=0.0,
                                                     max_backoff_seconds=0.0))
    try:
        row = Deployer(orch).deploy(orch.get(run_id), mode="on_demand")
    finally:
        orch.pool.close()
    assert (row.state, row.provider_deployment_id, row.lease_owner) == ("deploying", None, None)
    assert len(backend.deployments) == 1

    for _ in range(3):  # the next syncs find it by name and follow it until it serves
        code, out = _cli(capsys, "sync")
        assert code == 0, out
    dep = _json(capsys, "runs", "show", run_id)["deployment"]
    assert dep["state"] == "deployed" and dep["provider_deployment_id"] == next(iter(backend.deployments))
    assert len(backend.deployments) == 1 and backend.calls["deploy"] == 2


def test_a_replaced_models_deployment_is_retired_after_the_rollback_window_and_kept_by_a_rollback(
        project: Path, backend: FakeBackend, capsys: pytest.CaptureFixture[str]) -> None:
    # Retrain, promote, roll back, promote again, let the window pass, roll back onto the retired model:
    # hourly hosting of a model no alias serves stops, and nothing a rollback needs goes early.
    from datetime import timedelta

    from tuneops.clock import utcnow
    from tuneops.runs.deploy import deployment_for_run

    def undeploy_after(run_id: str) -> Any:
        with _store().read() as s:
            return deployment_for_run(s, run_id).undeploy_after  # type: ignore[union-attr]

    spec = sf.write_job(project, provider="fake", base="fake-base",
                        serve={"mode": "dedicated", "hourly_usd": 3.6, "retire_replaced_after": 2.0})
    first = _submit_and_sync(capsys, spec)
    assert undeploy_after(first) is None  # it holds production: it serves until told otherwise
    second = _submit_and_sync(capsys, spec, again=True)
    [production] = [m for m in _json(capsys, "models", "list") if m.get("aliases")]
    assert production["run_id"] == second
    window = undeploy_after(first) - utcnow()
    assert timedelta(hours=1, minutes=59) < window <= timedelta(hours=2) and undeploy_after(second) is None

    code, out = _cli(capsys, "models", "rollback", "support-triage@production")
    assert code == 0 and "is no longer retired" in out and "is undeployed after" in out, out
    assert undeploy_after(first) is None and undeploy_after(second) is not None

    code, out = _cli(capsys, "models", "promote", second, "--alias", "production", "--force", "--reason", "fixed")
    assert code == 0 and "is undeployed after" in out and "no longer retired" in out, out
    assert undeploy_after(second) is None and undeploy_after(first) is not None

    with _store().write() as s:  # the two hours pass
        row = deployment_for_run(s, first)
        row.undeploy_after = utcnow() - timedelta(minutes=1)  # type: ignore[union-attr]
        s.add(row)
    report = _json(capsys, "schedule", "tick")
    assert [(d["run_id"], d["state"]) for d in report["deployments"]] == [(first, "undeployed")]
    assert _json(capsys, "runs", "show", second)["deployment"]["state"] == "deployed"

    code, out = _cli(capsys, "models", "rollback", "support-triage@production")
    assert code == 0 and "was undeployed" in out and f"tuneops deploy {first}" in out, out
    assert undeploy_after(second) is None  # production's only deployment is not retired under it
    assert backend.calls["delete_deployment"] == 1
    actions = [e["action"] for e in _json(capsys, "history", "--job", "support-triage")]
    assert actions.count("deployment.retire_scheduled") == 3 and actions.count("deployment.retire_cancelled") == 2
    assert _cli(capsys, "audit", "verify")[0] == 0
