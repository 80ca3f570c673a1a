"""The whole loop at Together through the respx fake: a full fine-tune (which has no serverless home) goes
spec -> upload -> job -> completed -> dedicated endpoint -> eval through it -> promote -> undeploy, every
call counted; a LoRA fine-tune answers serverless with no endpoint; hourly hosting is never started
unless the spec says so; a crash during deploy is reconciled to exactly one endpoint."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

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

BASE_MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
FULL = {"training_type": "full"}
SERVE = {"mode": "dedicated", "hardware": "1x_nvidia_h100_80gb_sxm", "hourly_usd": 3.99, "auto_undeploy_after": 1.0}


@pytest.fixture
def orch(fake: Any) -> Iterator[Orchestrator]:
    with httpx.Client() as http:
        o = Orchestrator(open_store(), ProviderPool(env={"TOGETHER_API_KEY": "tg-test-key-0123456789"},
                                                    http_client=http),
                         policy=RetryPolicy(attempts=3, total_seconds=5, base_seconds=0.0, max_backoff_seconds=0.0))
        yield o
        o.pool.close()


def _complete(fake: Any) -> Any:
    def done(run: Any) -> None:
        job = fake.jobs[run.provider_job_id]
        job.update(status="completed", model_output_name=f"acme/{BASE_MODEL.split('/')[1]}-{job['suffix']}")
    return done


def _job(project: Path, **kw: Any) -> Path:
    return sf.write_job(project, provider="together", base=BASE_MODEL,
                        **{"options": {**FULL}} | kw)


def _short(path: str) -> str:
    return re.sub(r"/(files|fine-tunes|endpoints|put)/[^/]+", r"/\1/{id}", path.removeprefix("/v1"))


def test_a_full_fine_tune_is_served_from_a_dedicated_endpoint(project: Path, fake: Any, orch: Orchestrator) -> None:
    spec = _job(project, serve=SERVE)
    run = sf.submit_and_finish(orch, spec, on_created=_complete(fake))
    result = sf.after_success(orch, spec, run)
    assert result.status == "promoted", result.message
    row = Deployer(orch).row(run.id)
    assert row is not None and (row.state, row.hourly_cost_microusd, row.estimate_microusd) == (
        "deployed", 3_990_000, 3_990_000)
    endpoint = next(iter(fake.endpoints.values()))
    assert (endpoint["display_name"], endpoint["hardware"], endpoint["model"]) == (
        row.name, SERVE["hardware"], run.model_id)
    assert fake.chats == [row.endpoint] * sf.EVAL_EXAMPLES == [endpoint["name"]] * sf.EVAL_EXAMPLES

    gone = Deployer(orch).undeploy(orch.get(run.id))
    assert gone.state == "undeployed" and fake.endpoints == {}
    calls = sf.tally(fake.router.calls, _short)
    assert calls == {
        "GET /files": 2, "POST /files": 2, "PUT /put/{id}": 2, "POST /files/{id}/preprocess": 2, "GET /files/{id}": 2,
        "POST /fine-tunes": 1, "GET /fine-tunes/{id}": 1, "GET /fine-tunes/{id}/events": 1,
        "GET /fine-tunes/{id}/metrics": 1, "GET /fine-tunes/{id}/checkpoints": 1,
        "GET /endpoints": 1, "GET /endpoints/{id}": 2, "POST /endpoints": 1, "DELETE /endpoints/{id}": 1,
        "POST /chat/completions": sf.EVAL_EXAMPLES}
    assert sf.audit_actions(orch.store) == ["deployment.requested", "deployment.created", "deployment.deployed",
                                            "deployment.undeploying", "deployment.undeployed"]


def test_a_lora_fine_tune_answers_serverless_and_hourly_hosting_needs_the_spec(
        project: Path, fake: Any, orch: Orchestrator) -> None:
    spec = _job(project, options={})  # LoRA (the default)
    run = sf.submit_and_finish(orch, spec, on_created=_complete(fake))
    assert sf.after_success(orch, spec, run).status == "promoted"
    assert Deployer(orch).row(run.id) is None and fake.chats == [run.model_id] * sf.EVAL_EXAMPLES

    fake.chats.clear()
    spec = _job(project)  # a full fine-tune, no [serve]: nothing billed by the hour starts
    run = sf.submit_and_finish(orch, spec, on_created=_complete(fake))
    result = sf.after_success(orch, spec, run)
    assert result.status == "skipped" and "billed by the hour" in result.message and "[serve] mode" in result.message
    assert fake.endpoints == {} and fake.chats == []


@pytest.mark.parametrize("lose", ["crash", "lost answer"])
def test_a_crash_during_deploy_reconciles_to_exactly_one_endpoint(project: Path, fake: Any, orch: Orchestrator,
                                                                  monkeypatch: pytest.MonkeyPatch, lose: str) -> None:
    spec = _job(project, serve=SERVE)
    run = sf.submit_and_finish(orch, spec, on_created=_complete(fake))
    if lose == "crash":
        sf.crash_at(monkeypatch, "during-deploy")
        with pytest.raises(sf.Crash):
            Deployer(orch).deploy(run)
        assert len(fake.endpoints) == 1 and Deployer(orch).row(run.id).provider_deployment_id is None
        Deployer(orch).deploy(orch.get(run.id))
    else:
        fake.respond_next("deploy", httpx.Response(502, json={"error": {"message": "bad gateway"}}))
        Deployer(orch).deploy(run)
    row = Deployer(orch).wait(run.id, sleep=lambda s: None)
    assert row.state == "deployed" and list(fake.endpoints) == [row.provider_deployment_id]
    posts = [c for c in fake.router.calls if c.request.method == "POST" and c.request.url.path == "/v1/endpoints"]
    assert len(posts) == 1  # the endpoint was found by its display name, not started twice
