"""The whole loop at Fireworks through the respx fake, as `submit` / `sync` drive it: spec -> dataset upload
-> SFT job -> succeeded -> dedicated deployment -> eval through the deployment -> promote -> undeploy,
with every call counted; and a crash during deploy reconciled to exactly one deployment."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

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

ENV = {"FIREWORKS_API_KEY": "fw-test-key-0123456789", "FIREWORKS_ACCOUNT_ID": "acme"}
BASE_MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"
SERVE = {"mode": "dedicated", "hourly_usd": 3.0, "auto_undeploy_after": 2.0}


@pytest.fixture
def orch(fake: Any) -> Iterator[Orchestrator]:
    """An orchestrator whose adapters talk to the fake (the retry policy's waits cut short)."""
    from tuneops.retry import RetryPolicy

    with httpx.Client() as http:
        o = Orchestrator(open_store(), ProviderPool(env=ENV, http_client=http),
                         policy=RetryPolicy(attempts=3, total_seconds=5, base_seconds=0.0, max_backoff_seconds=0.0))
        yield o
        o.pool.close()


def _complete(fake: Any) -> Any:
    def done(run: Any) -> None:
        job = fake.jobs[run.provider_job_id]
        job["state"] = "JOB_STATE_COMPLETED"
    return done


def _short(path: str) -> str:
    path = re.sub(r"^/v1/accounts/acme", "", path)
    return re.sub(r"/(datasets|supervisedFineTuningJobs|deployments)/[^/:]+", r"/\1/{id}", path)


def test_the_whole_loop_goes_through_a_dedicated_deployment(project: Path, fake: Any, orch: Orchestrator) -> None:
    spec = sf.write_job(project, provider="fireworks", base=BASE_MODEL, serve=SERVE)
    run = sf.submit_and_finish(orch, spec, on_created=_complete(fake))
    result = sf.after_success(orch, spec, run)
    assert result.status == "promoted", result.message
    row = Deployer(orch).row(run.id)
    assert row is not None and row.state == "deployed" and row.hourly_cost_microusd == 3_000_000
    assert row.endpoint == f"{run.model_id}#{row.provider_deployment_id}"
    assert fake.chats == [row.endpoint] * sf.EVAL_EXAMPLES  # every eval call through the deployment

    gone = Deployer(orch).undeploy(orch.get(run.id))
    assert gone.state == "undeployed" and fake.deployments == {}
    assert sf.tally(fake.router.calls, _short) == {
        "POST /datasets": 2, "POST /datasets/{id}:upload": 2, "GET /datasets/{id}": 4,
        "POST /supervisedFineTuningJobs": 1, "GET /supervisedFineTuningJobs/{id}": 3,
        "POST /deployments": 1, "GET /deployments/{id}": 1, "DELETE /deployments/{id}": 1,
        "POST /inference/v1/chat/completions": sf.EVAL_EXAMPLES}
    assert sf.audit_actions(orch.store) == ["deployment.requested", "deployment.created", "deployment.deployed",
                                            "deployment.undeploying", "deployment.undeployed"]


def test_a_crash_during_deploy_reconciles_to_exactly_one_deployment(project: Path, fake: Any, orch: Orchestrator,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    spec = sf.write_job(project, provider="fireworks", base=BASE_MODEL, serve=SERVE)
    run = sf.submit_and_finish(orch, spec, on_created=_complete(fake))
    sf.crash_at(monkeypatch, "during-deploy")
    with pytest.raises(sf.Crash):
        Deployer(orch).deploy(run)
    assert len(fake.deployments) == 1 and Deployer(orch).row(run.id).provider_deployment_id is None

    row = Deployer(orch).deploy(orch.get(run.id))  # the restarted process
    row = Deployer(orch).wait(run.id, sleep=lambda s: None)
    assert row.state == "deployed" and len(fake.deployments) == 1
    assert row.provider_deployment_id == next(iter(fake.deployments.values()))["name"]
    posts = [c for c in fake.router.calls if c.request.method == "POST" and "/deployments" in c.request.url.path]
    assert len(posts) == 1  # found by its name, not bought twice


def test_a_lost_deploy_answer_is_settled_by_the_name(project: Path, fake: Any, orch: Orchestrator) -> None:
    spec = sf.write_job(project, provider="fireworks", base=BASE_MODEL, serve=SERVE)
    run = sf.submit_and_finish(orch, spec, on_created=_complete(fake))
    fake.respond_next("deploy", httpx.Response(503, json={"error": {"code": 503, "message": "unavailable",
                                                                    "status": "UNAVAILABLE"}}))
    row = Deployer(orch).deploy(run)
    row = Deployer(orch).wait(run.id, sleep=lambda s: None)
    assert row.state == "deployed" and len(fake.deployments) == 1
