"""The provider contract, and a whole job, over real HTTP against the sandbox.

The sandbox runs on a manual clock here, so a job stays where the test puts it (no race between a
create and a cancel). 429s and 5xx come from the sandbox's own fault injection (``POST
/_sandbox/faults``); only what the sandbox cannot do on request (pin a status, refuse with a 4xx) is
done by a thin transport in front of it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from tuneops.errors import AmbiguousCreate
from tuneops.provider import Hyperparameters, ProviderConfig, RunStatus
from tuneops.providers.openai import SandboxProvider
from tuneops.providers.openai.status import STATUS_TABLE
from tuneops.sandbox import SandboxServer
from tuneops.testing import ProviderContract, prepared_file

SANDBOX_STATUSES = ("validating_files", "queued", "running", "paused", "succeeded", "failed", "cancelled")
ROUTES = {"create": ["POST /v1/fine_tuning/jobs"], "get": ["GET /v1/fine_tuning/jobs/{fine_tuning_job_id}"],
          "find": ["GET /v1/fine_tuning/jobs"],
          "upload": ["POST /v1/files", "POST /v1/uploads", "POST /v1/uploads/{upload_id}/parts"]}


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


def _operation(request: httpx.Request) -> str:
    path, method = request.url.path, request.method
    if path == "/v1/fine_tuning/jobs":
        return "create" if method == "POST" else "find"
    if path.startswith("/v1/fine_tuning/jobs/") and path.count("/") == 4 and method == "GET":
        return "get"
    if path.startswith(("/v1/files", "/v1/uploads")) and method == "POST":
        return "upload"
    return ""


class SteeringTransport(httpx.HTTPTransport):
    """Real HTTP to the sandbox, plus pinned job statuses and one-off 4xx refusals."""

    def __init__(self) -> None:
        super().__init__()
        self.pinned: dict[str, str] = {}
        self.refusals: dict[str, list[int]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Forward, unless a refusal is queued; rewrite pinned statuses in job objects."""
        queue = self.refusals.get(_operation(request))
        if queue:
            status = queue.pop(0)
            return httpx.Response(status, json={"error": {"message": f"refused by the test ({status})",
                                                          "type": "invalid_request_error", "param": None,
                                                          "code": "test_refusal"}}, request=request)
        response = super().handle_request(request)
        if not self.pinned or not request.url.path.startswith("/v1/fine_tuning/jobs"):
            return response
        response.read()
        data = json.loads(response.content)
        for obj in data.get("data", [data]) if isinstance(data, dict) else []:
            if isinstance(obj, dict) and obj.get("object") == "fine_tuning.job" and obj["id"] in self.pinned:
                obj["status"] = self.pinned[obj["id"]]
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length",)}
        return httpx.Response(response.status_code, headers=headers, json=data, request=request)


@dataclass
class SandboxHarness:
    """ContractHarness over SandboxProvider and a real sandbox server."""

    provider: SandboxProvider
    server: SandboxServer
    transport: SteeringTransport
    admin: httpx.Client
    raw_statuses: dict[str, RunStatus] = field(
        default_factory=lambda: {s: STATUS_TABLE[s] for s in SANDBOX_STATUSES})

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Pin the status the job reports."""
        self.transport.pinned[provider_job_id] = raw_status

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """429/5xx through the sandbox's fault injection, other statuses from the transport."""
        faults: dict[str, Any] = {"max_faults": 1, "routes": ROUTES[operation]}
        if http_status == 429:
            faults.update(rate_429=1.0, retry_after=retry_after if retry_after is not None else 1.0)
        elif http_status >= 500 and operation == "create":
            faults.update(rate_drop=1.0, drop_mode="error")  # the job is created, its answer lost
        elif http_status >= 500:
            faults.update(rate_5xx=1.0)
        else:
            self.transport.refusals.setdefault(operation, []).append(http_status)
            return
        self.admin.post(f"{self.server.admin_url}/faults", json=faults).raise_for_status()

    def jobs_created(self) -> int:
        """Jobs the sandbox holds."""
        return int(self.admin.get(f"{self.server.admin_url}/stats").json()["jobs"])


@pytest.fixture(scope="module")
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture(scope="module")
def server(clock: ManualClock) -> Iterator[SandboxServer]:
    with SandboxServer(clock=clock) as s:
        yield s


@pytest.fixture(scope="module")
def transport() -> SteeringTransport:
    return SteeringTransport()


@pytest.fixture(scope="module")
def http(transport: SteeringTransport) -> Iterator[httpx.Client]:
    with httpx.Client(transport=transport, timeout=10.0) as client:
        yield client


@pytest.fixture
def harness(server: SandboxServer, transport: SteeringTransport, http: httpx.Client) -> Iterator[SandboxHarness]:
    http.post(f"{server.admin_url}/reset").raise_for_status()
    transport.pinned.clear()
    transport.refusals.clear()
    # A tiny threshold sends even the sample file through the Uploads API, in parts.
    options = {"upload_chunked_above_bytes": 256, "upload_part_bytes": 512}
    provider = SandboxProvider(ProviderConfig(options=options, env={"TUNEOPS_SANDBOX_URL": server.url},
                                              http_client=http))
    yield SandboxHarness(provider, server, transport, http)
    provider.close()
    http.post(f"{server.admin_url}/faults", json={}).raise_for_status()


class TestSandboxContract(ProviderContract):
    """Every contract guarantee, over real HTTP."""

    base_model = "sandbox-mini"
    served_model = "sandbox-mini"  # the sandbox serves any model it has under a deployment name


def _create(h: SandboxHarness, tmp_path: Path, key: str = "tuneops-run_sandbox", **hp: Any) -> str:
    from tuneops.provider import CreateRequest

    path, digest = prepared_file(h.provider, tmp_path)
    up = h.provider.upload(path, sha256=digest)
    request = CreateRequest("sandbox-e2e", "sandbox-mini", "sft", up, None, Hyperparameters(**hp),
                            key, suffix="e2e")
    return h.provider.create(request).provider_job_id


def test_a_job_runs_to_a_model_that_answers(harness: SandboxHarness, clock: ManualClock,
                                            tmp_path: Path) -> None:
    p = harness.provider
    jid = _create(harness, tmp_path, epochs=2, seed=3)
    assert p.get(jid).status is RunStatus.VALIDATING
    clock.advance(3600)
    job = p.get(jid)
    assert job.status is RunStatus.SUCCEEDED and job.model_id and job.model_id.startswith("ft:sandbox-mini:")
    metrics = p.metrics(jid)
    assert metrics and metrics == sorted(metrics, key=lambda m: m.step)
    assert [c.step for c in p.checkpoints(jid)] == sorted(c.step for c in p.checkpoints(jid))
    assert any("successfully completed" in e.message for e in p.events(jid))
    answer = p.infer(job.model_id, [{"role": "user", "content": "ticket number 4 about technical"}])
    assert answer.text == "technical" and answer.input_tokens > 0


def test_pause_and_resume_over_http(harness: SandboxHarness, clock: ManualClock, tmp_path: Path) -> None:
    jid = _create(harness, tmp_path, epochs=3)
    clock.advance(0.8)  # past validation and queueing
    assert harness.provider.get(jid).status is RunStatus.RUNNING
    assert harness.provider.pause(jid).status is RunStatus.PAUSED
    clock.advance(3600)
    assert harness.provider.get(jid).status is RunStatus.PAUSED  # paused jobs do not progress
    assert harness.provider.resume(jid).status is RunStatus.RUNNING


def test_an_ambiguous_create_is_found_again_by_its_key(harness: SandboxHarness, tmp_path: Path) -> None:
    from tuneops.provider import CreateRequest

    path, digest = prepared_file(harness.provider, tmp_path)
    up = harness.provider.upload(path, sha256=digest)
    harness.fail_next("create", 500)  # the sandbox creates the job, then loses the answer
    with pytest.raises(AmbiguousCreate):
        harness.provider.create(CreateRequest("j", "sandbox-mini", "sft", up, None, Hyperparameters(),
                                              "tuneops-run_lost"))
    found = harness.provider.find("tuneops-run_lost")
    assert len(found) == 1 and harness.jobs_created() == 1


def test_models_and_check_over_http(harness: SandboxHarness, clock: ManualClock) -> None:
    models = dict(harness.provider.list_models())
    assert models["sandbox-mini"] is None and isinstance(models["sandbox-legacy"], date)
    assert all(ok for ok, _ in harness.provider.check())
