"""The whole loop at Bedrock through moto (S3, customization jobs) and an in-memory fake of what moto
lacks (custom model deployments, Provisioned Throughput, Converse; answers checked against botocore's
service model): spec -> S3 staging -> job -> Completed -> deployment -> eval through it -> promote ->
undeploy, every call counted; and a crash during deploy reconciled to exactly one deployment."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuneops.retry import RetryPolicy
from tuneops.runs.deploy import Deployer
from tuneops.runs.orchestrator import Orchestrator, ProviderPool
from tuneops.store import open_store

fb = sys.modules["fakebedrock"]
_SF = Path(__file__).parents[2] / "lifecycle" / "servingflow.py"
if "servingflow" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("servingflow", _SF)
    assert _spec and _spec.loader
    sys.modules["servingflow"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["servingflow"])
sf = sys.modules["servingflow"]


@pytest.fixture
def world(aws: None) -> Iterator[tuple[Orchestrator, Any, Any]]:
    """An orchestrator whose Bedrock adapter talks to moto plus the serving fake; every call recorded."""
    orch = Orchestrator(open_store(), ProviderPool(env=dict(fb.ENV)),
                        policy=RetryPolicy(attempts=3, total_seconds=5, base_seconds=0.0, max_backoff_seconds=0.0))
    adapter = orch.pool.get("bedrock", dict(fb.OPTIONS))
    serving = fb.FakeServing()
    serving.install(adapter)
    calls = fb.watch(adapter)
    yield orch, serving, calls
    orch.pool.close()


def _complete(run: Any) -> None:
    job = fb.backend().model_customization_jobs
    name = next(n for n, j in job.items() if run.provider_job_id in (n, j.job_arn))
    job[name].status = "Completed"


def _tally(calls: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for name, _ in calls.params:
        out[name] = out.get(name, 0) + 1
    return out


@pytest.mark.parametrize("serve, kind, hourly", [
    (None, "on_demand", 0),  # no [serve]: the per-token on-demand deployment
    ({"mode": "provisioned", "hourly_usd": 21.18, "auto_undeploy_after": 4.0}, "provisioned", 21_180_000),
])
def test_the_whole_loop_goes_through_a_deployment(project: Path, world: Any, serve: Any, kind: str,
                                                  hourly: int) -> None:
    orch, serving, calls = world
    spec = sf.write_job(project, provider="bedrock", base=fb.NOVA, options=dict(fb.OPTIONS), serve=serve)
    run = sf.submit_and_finish(orch, spec, on_created=_complete)
    result = sf.after_success(orch, spec, run)
    assert result.status == "promoted", result.message
    row = Deployer(orch).row(run.id)
    assert row is not None and (row.state, row.mode, row.hourly_cost_microusd) == ("deployed", kind, hourly)
    assert serving.converse_models == [row.endpoint] * sf.EVAL_EXAMPLES  # every eval call through it

    gone = Deployer(orch).undeploy(orch.get(run.id))
    assert gone.state == "undeployed" and serving.deployments == {}
    create, get, delete = (("CreateCustomModelDeployment", "GetCustomModelDeployment", "DeleteCustomModelDeployment")
                           if kind == "on_demand" else ("CreateProvisionedModelThroughput",
                                                        "GetProvisionedModelThroughput",
                                                        "DeleteProvisionedModelThroughput"))
    assert _tally(calls) == {"HeadObject": 4, "PutObject": 2, "CreateModelCustomizationJob": 1,
                             "GetModelCustomizationJob": 3, "ListObjectsV2": 1, create: 1, get: 1, delete: 1}
    assert sf.audit_actions(orch.store) == ["deployment.requested", "deployment.created", "deployment.deployed",
                                            "deployment.undeploying", "deployment.undeployed"]


def test_where_on_demand_is_not_offered_nothing_hourly_is_bought(project: Path, world: Any) -> None:
    orch, serving, _ = world
    serving.offers_on_demand = False
    spec = sf.write_job(project, provider="bedrock", base=fb.NOVA, options=dict(fb.OPTIONS))
    run = sf.submit_and_finish(orch, spec, on_created=_complete)
    result = sf.after_success(orch, spec, run)
    assert result.status == "skipped" and "Provisioned Throughput" in result.message
    row = Deployer(orch).row(run.id)
    assert row.state == "deploy_failed" and serving.deployments == {}


def test_a_crash_during_deploy_reconciles_to_exactly_one_deployment(project: Path, world: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    orch, serving, calls = world
    spec = sf.write_job(project, provider="bedrock", base=fb.NOVA, options=dict(fb.OPTIONS))
    run = sf.submit_and_finish(orch, spec, on_created=_complete)
    sf.crash_at(monkeypatch, "during-deploy")
    with pytest.raises(sf.Crash):
        Deployer(orch).deploy(run)
    assert len(serving.deployments) == 1 and Deployer(orch).row(run.id).provider_deployment_id is None

    Deployer(orch).deploy(orch.get(run.id))
    row = Deployer(orch).wait(run.id, sleep=lambda s: None)
    assert row.state == "deployed" and list(serving.deployments) == [row.provider_deployment_id]
    assert serving.creates == 1 and _tally(calls)["CreateCustomModelDeployment"] == 1
