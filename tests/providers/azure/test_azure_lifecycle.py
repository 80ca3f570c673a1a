"""The whole loop at Azure OpenAI through the respx fakes of the data plane and of ARM: spec -> upload ->
job -> succeeded -> deployment (Developer tier, or hourly Standard when the spec says so) -> eval
through the deployment -> promote -> undeploy, every call counted; and a crash during deploy
reconciled to exactly one deployment."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fakearm import ARM_TOKEN, FakeArm
from fakeopenai import FakeOpenAI

from tuneops.retry import RetryPolicy
from tuneops.runs.deploy import Deployer
from tuneops.runs.orchestrator import Orchestrator, ProviderPool
from tuneops.store import open_store

_SF = Path(__file__).parents[2] / "lifecycle" / "servingflow.py"
if "servingflow" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("servingflow", _SF)
    assert _spec and _spec.loader
    sys.modules["servingflow"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["servingflow"])
sf = sys.modules["servingflow"]

FIXTURES = Path(__file__).with_name("fixtures")
ENDPOINT = "https://res.openai.azure.com"
# The endpoint comes from the environment: a spec may not say where credentials go.
ENV = {"AZURE_OPENAI_API_KEY": "azure-key-0123456789abcdef", "AZURE_MANAGEMENT_TOKEN": ARM_TOKEN,
       "AZURE_OPENAI_ENDPOINT": ENDPOINT}
OPTIONS = {"file_poll_seconds": 0.001, "subscription_id": "sub-1", "resource_group": "rg-tuneops"}


@pytest.fixture
def fakes(http: httpx.Client) -> Iterator[tuple[FakeOpenAI, FakeArm, Orchestrator]]:
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        api = FakeOpenAI(router, f"{ENDPOINT}/openai/v1", fixtures=FIXTURES)
        arm = FakeArm(router)
        orch = Orchestrator(open_store(), ProviderPool(env=ENV, http_client=http),
                            policy=RetryPolicy(attempts=3, total_seconds=5, base_seconds=0.0, max_backoff_seconds=0.0))
        yield api, arm, orch
        orch.pool.close()


def _succeed(api: FakeOpenAI) -> Any:
    return lambda run: api.set_status(run.provider_job_id, "succeeded")


@pytest.mark.parametrize("serve, sku, hourly", [
    (None, "Developer", 0),  # no [serve]: the per-token Developer tier, made for evaluating
    ({"mode": "dedicated", "hourly_usd": 1.7, "auto_undeploy_after": 24.0}, "Standard", 1_700_000),
])
def test_the_whole_loop_goes_through_an_arm_deployment(project: Path, fakes: Any, serve: Any, sku: str,
                                                       hourly: int) -> None:
    api, arm, orch = fakes
    spec = sf.write_job(project, provider="azure", base="gpt-4o-mini-2024-07-18", options=OPTIONS, serve=serve)
    run = sf.submit_and_finish(orch, spec, on_created=_succeed(api))
    result = sf.after_success(orch, spec, run)
    assert result.status == "promoted", result.message
    row = Deployer(orch).row(run.id)
    assert row is not None and (row.state, row.hourly_cost_microusd) == ("deployed", hourly)
    assert arm.deployments[row.name]["sku"]["name"] == sku
    assert arm.deployments[row.name]["properties"]["model"]["name"] == run.model_id
    chats = [json.loads(r.content)["model"] for r in api.op_requests("infer")]
    assert chats == [row.name] * sf.EVAL_EXAMPLES  # every eval call through the deployment

    gone = Deployer(orch).undeploy(orch.get(run.id))
    assert gone.state == "undeployed" and arm.deployments == {}
    assert dict(api.calls) == {"file": 2, "upload": 2, "create": 1, "get": 2, "events": 1, "checkpoints": 1,
                               "result": 1, "models": 1, "infer": sf.EVAL_EXAMPLES}
    assert arm.puts == 1
    assert sf.audit_actions(orch.store) == ["deployment.requested", "deployment.created", "deployment.deployed",
                                            "deployment.undeploying", "deployment.undeployed"]


@pytest.mark.parametrize("lose", ["crash", "lost answer"])
def test_a_crash_during_deploy_reconciles_to_exactly_one_deployment(project: Path, fakes: Any, lose: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    api, arm, orch = fakes
    spec = sf.write_job(project, provider="azure", base="gpt-4o-mini-2024-07-18", options=OPTIONS)
    run = sf.submit_and_finish(orch, spec, on_created=_succeed(api))
    if lose == "crash":
        sf.crash_at(monkeypatch, "during-deploy")
        with pytest.raises(sf.Crash):
            Deployer(orch).deploy(run)
        assert len(arm.deployments) == 1 and Deployer(orch).row(run.id).provider_deployment_id is None
    else:
        arm.lose_next_put = True
    Deployer(orch).deploy(orch.get(run.id))
    row = Deployer(orch).wait(run.id, sleep=lambda s: None)
    assert row.state == "deployed" and list(arm.deployments) == [row.name]
    assert arm.puts == (1 if lose == "crash" else 2)  # a lost PUT is repeated: by name, it is idempotent
