"""A small stateful fake of Fireworks' control plane behind respx, and the contract harness."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tuneops.provider import ProviderConfig, RunStatus
from tuneops.providers.fireworks import FireworksProvider
from tuneops.providers.fireworks.status import STATUS_TABLE

FIXTURES = Path(__file__).parent / "fixtures"
ACCOUNT = "acme"
BASE = f"https://api.fireworks.ai/v1/accounts/{ACCOUNT}"
INFERENCE = "https://api.fireworks.ai/inference/v1"
SIGNED = "https://storage.googleapis.com/fw-datasets"
API_KEY = "fw-test-key-0123456789"
COLLECTION = {"supervisedFineTuningJobs": ("sft_job.json", "supervisedFineTuningJobId"),
              "dpoJobs": ("dpo_job.json", "dpoJobId")}
ID = r"(?P<rid>[a-z0-9-]+)"


def load(name: str) -> Any:
    """A fixture file's JSON."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeFireworks:
    """Datasets, jobs and deployments in memory; queued responses stand in for failures."""

    router: respx.Router
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    uploaded: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)  # by resource name
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)
    queued: dict[str, list[httpx.Response]] = field(default_factory=dict)
    creates: list[httpx.Request] = field(default_factory=list)
    chats: list[str] = field(default_factory=list)  # the model of every chat completion

    def respond_next(self, op: str, response: httpx.Response) -> None:
        """Answer the next ``op`` with exactly this response."""
        self.queued.setdefault(op, []).append(response)

    def _queued(self, op: str) -> httpx.Response | None:
        queue = self.queued.get(op)
        return queue.pop(0) if queue else None

    # -- datasets --------------------------------------------------------------------------------

    def create_dataset(self, request: httpx.Request) -> httpx.Response:
        if (r := self._queued("upload")) is not None:
            return r
        body = json.loads(request.content)
        rid = body["datasetId"]
        if rid in self.datasets:
            return httpx.Response(409, json={"error": {"code": 409, "message": "dataset exists",
                                                       "status": "ALREADY_EXISTS"}})
        self.datasets[rid] = load("dataset.json") | {"name": f"accounts/{ACCOUNT}/datasets/{rid}",
                                                    "exampleCount": body["dataset"]["exampleCount"]}
        return httpx.Response(200, json=self.datasets[rid])

    def get_dataset(self, request: httpx.Request, rid: str) -> httpx.Response:
        if rid not in self.datasets:
            return httpx.Response(404, json={"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        return httpx.Response(200, json=self.datasets[rid])

    def upload(self, request: httpx.Request, rid: str) -> httpx.Response:
        assert request.headers["content-type"].startswith("multipart/form-data")
        self.uploaded[rid] = request.read()
        self.datasets[rid]["state"] = "READY"
        return httpx.Response(200, json=load("dataset_upload.json") | {"id": rid})

    def upload_endpoint(self, request: httpx.Request, rid: str) -> httpx.Response:
        names = json.loads(request.content)["filenameToSize"]
        return httpx.Response(200, json={"filenameToSignedUrls": {n: f"{SIGNED}/{rid}/{n}?sig=1" for n in names}})

    def put_signed(self, request: httpx.Request, rid: str) -> httpx.Response:
        assert "authorization" not in request.headers, "signed URLs must not receive the API key"
        size = request.headers["x-goog-content-length-range"].split(",")[0]
        self.uploaded[rid] = request.read()
        assert int(size) == len(self.uploaded[rid])
        return httpx.Response(200)

    def validate(self, request: httpx.Request, rid: str) -> httpx.Response:
        self.datasets[rid]["state"] = "READY"
        return httpx.Response(200, json={})

    # -- jobs ------------------------------------------------------------------------------------

    def create_job(self, request: httpx.Request, coll: str) -> httpx.Response:
        self.creates.append(request)
        if (r := self._queued("create-refused")) is not None:  # refused before anything exists
            return r
        template, id_param = COLLECTION[coll]
        rid = request.url.params[id_param]
        name = f"accounts/{ACCOUNT}/{coll}/{rid}"
        if name in self.jobs:
            return httpx.Response(409, json=load("error_409.json"))
        body = json.loads(request.content)
        job = load(template) | body | {"name": name, "state": "JOB_STATE_CREATING"}
        self.jobs[name] = job
        if (r := self._queued("create")) is not None:  # after the job exists: the ambiguous case
            return r
        return httpx.Response(200, json=job)

    def get_job(self, request: httpx.Request, coll: str, rid: str) -> httpx.Response:
        if (r := self._queued("get")) is not None:
            return r
        job = self.jobs.get(f"accounts/{ACCOUNT}/{coll}/{rid}")
        if job is None:
            return httpx.Response(404, json={"error": {"code": 404, "message": f"{rid} not found",
                                                       "status": "NOT_FOUND"}})
        return httpx.Response(200, json=job)

    def list_jobs(self, request: httpx.Request, coll: str) -> httpx.Response:
        items = [j for n, j in self.jobs.items() if f"/{coll}/" in n]
        size = int(request.url.params.get("pageSize", 50))
        start = int(request.url.params.get("pageToken") or 0)
        page = items[start:start + size]
        token = str(start + size) if start + size < len(items) else ""
        return httpx.Response(200, json={coll: page, "nextPageToken": token})

    def control(self, request: httpx.Request, coll: str, rid: str, verb: str) -> httpx.Response:
        job = self.jobs[f"accounts/{ACCOUNT}/{coll}/{rid}"]
        job["state"] = {"cancel": "JOB_STATE_CANCELLING", "resume": "JOB_STATE_PENDING"}[verb]
        return httpx.Response(200, json={})

    # -- deployments -----------------------------------------------------------------------------

    def create_deployment(self, request: httpx.Request) -> httpx.Response:
        rid = request.url.params["deploymentId"]
        if rid in self.deployments:
            return httpx.Response(409, json={"error": {"code": 409, "message": "exists", "status": "ALREADY_EXISTS"}})
        body = json.loads(request.content)
        self.deployments[rid] = load("deployment.json") | body | {"name": f"accounts/{ACCOUNT}/deployments/{rid}"}
        if (r := self._queued("deploy")) is not None:  # after the deployment exists: the answer is lost
            return r
        return httpx.Response(200, json=self.deployments[rid])

    def get_deployment(self, request: httpx.Request, rid: str) -> httpx.Response:
        dep = self.deployments.get(rid)
        if dep is None:
            return httpx.Response(404, json={"error": {"code": 404, "message": f"{rid} not found",
                                                       "status": "NOT_FOUND"}})
        if dep["state"] == "CREATING":  # comes up after one look
            self.deployments[rid] = dep = dep | {"state": "READY"}
        return httpx.Response(200, json=dep)

    def delete_deployment(self, request: httpx.Request, rid: str) -> httpx.Response:
        if self.deployments.pop(rid, None) is None:
            return httpx.Response(404, json={"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}})
        return httpx.Response(200, json={})

    def chat(self, request: httpx.Request) -> httpx.Response:
        """Answers only through a READY deployment of a fine-tuned model (``model#deployment``)."""
        model = json.loads(request.content)["model"]
        self.chats.append(model)
        if "/models/tuneops-" in model:
            dep = self.deployments.get(model.rsplit("/", 1)[-1]) if "#" in model else None
            if dep is None or dep["state"] != "READY":
                return httpx.Response(404, json={"error": {"code": 404, "message": f"model {model} is not deployed",
                                                           "status": "NOT_FOUND"}})
        return httpx.Response(200, json=load("chat.json"))

    def install(self) -> None:
        r = self.router
        colls = "(?P<coll>supervisedFineTuningJobs|dpoJobs)"
        r.post(f"{BASE}/datasets").mock(side_effect=self.create_dataset)
        r.post(url__regex=rf"{BASE}/datasets/{ID}:upload$").mock(side_effect=self.upload)
        r.post(url__regex=rf"{BASE}/datasets/{ID}:getUploadEndpoint$").mock(side_effect=self.upload_endpoint)
        r.post(url__regex=rf"{BASE}/datasets/{ID}:validateUpload$").mock(side_effect=self.validate)
        r.get(url__regex=rf"{BASE}/datasets/{ID}$").mock(side_effect=self.get_dataset)
        r.put(url__regex=rf"{SIGNED}/{ID}/.*").mock(side_effect=self.put_signed)
        r.post(url__regex=rf"{BASE}/{colls}\?").mock(side_effect=self.create_job)
        r.get(url__regex=rf"{BASE}/{colls}(\?.*)?$").mock(side_effect=self.list_jobs)
        r.get(url__regex=rf"{BASE}/{colls}/{ID}$").mock(side_effect=self.get_job)
        r.post(url__regex=rf"{BASE}/{colls}/{ID}:(?P<verb>cancel|resume)$").mock(side_effect=self.control)
        r.post(url__regex=rf"{BASE}/deployments\?").mock(side_effect=self.create_deployment)
        r.get(url__regex=rf"{BASE}/deployments/{ID}$").mock(side_effect=self.get_deployment)
        r.delete(url__regex=rf"{BASE}/deployments/{ID}$").mock(side_effect=self.delete_deployment)
        r.post(f"{INFERENCE}/chat/completions").mock(side_effect=self.chat)


@dataclass
class FireworksHarness:
    """ContractHarness over FireworksProvider and FakeFireworks."""

    provider: FireworksProvider
    fake: FakeFireworks
    raw_statuses: dict[str, RunStatus] = field(default_factory=lambda: dict(STATUS_TABLE))

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Pin the job's state in the fake."""
        self.fake.jobs[provider_job_id]["state"] = raw_status

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Queue one HTTP failure."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.fake.respond_next(operation, httpx.Response(
            http_status, headers=headers, json={"error": {"code": http_status, "message": "injected failure",
                                                          "status": "RESOURCE_EXHAUSTED" if http_status == 429
                                                          else "INVALID_ARGUMENT"}}))

    def jobs_created(self) -> int:
        """Jobs in the fake."""
        return len(self.fake.jobs)


@pytest.fixture
def fake() -> Iterator[FakeFireworks]:
    """The fake Fireworks API, mocked for the duration of a test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        state = FakeFireworks(router)
        state.install()
        yield state


@pytest.fixture
def provider(fake: FakeFireworks) -> Iterator[FireworksProvider]:
    """A FireworksProvider talking to the fake through an injected httpx.Client."""
    with httpx.Client() as http:
        p = FireworksProvider(ProviderConfig(env={"FIREWORKS_API_KEY": API_KEY, "FIREWORKS_ACCOUNT_ID": ACCOUNT},
                                             http_client=http), sleep=lambda s: None)
        yield p
        p.close()


@pytest.fixture
def harness(provider: FireworksProvider, fake: FakeFireworks) -> FireworksHarness:
    """The contract harness."""
    return FireworksHarness(provider, fake)


@pytest.fixture
def fixture_json() -> Any:
    """Load a fixture file by name (a deep copy each time)."""
    return lambda name: copy.deepcopy(load(name))
