"""A small stateful fake of Together's fine-tuning API behind respx, and the contract harness."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tuneops.provider import ProviderConfig, RunStatus
from tuneops.providers.together import TogetherProvider
from tuneops.providers.together.status import STATUS_TABLE

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.together.xyz/v1"
UPLOAD_HOST = "https://together-uploads.example-bucket.test"
API_KEY = "tg-test-key-0123456789"
OPS = {"create", "get", "upload", "find", "cancel", "events"}


def load(name: str) -> Any:
    """A fixture file's JSON."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeTogether:
    """Files and jobs in memory; ``fail_next`` queues an HTTP error for one operation."""

    router: respx.Router
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    pending_bytes: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, float | None] | httpx.Response]] = field(default_factory=dict)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    processing: list[str] = field(default_factory=list)  # statuses the next uploaded file goes through
    endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)  # dedicated endpoints by id
    chats: list[str] = field(default_factory=list)  # the model of every chat completion
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def failure(self, op: str) -> httpx.Response | None:
        queue = self.failures.get(op)
        if not queue:
            return None
        item = queue.pop(0)
        if isinstance(item, httpx.Response):
            return item
        status, retry_after = item
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        body = load("error_429.json") if status == 429 else load("error_400.json")
        return httpx.Response(status, json=body, headers=headers)

    def respond_next(self, op: str, response: httpx.Response) -> None:
        """Answer the next ``op`` with exactly this response."""
        self.failures.setdefault(op, []).append(response)

    # -- routes ----------------------------------------------------------------------------------

    def register(self, request: httpx.Request) -> httpx.Response:
        if (r := self.failure("upload")) is not None:
            return r
        form = _form(request)
        if form["checksum"] in self.checksums:
            return httpx.Response(409, json={"file_id": self.checksums[form["checksum"]]})
        fid = f"file-{next(self.ids):08d}-fake"
        self.checksums[form["checksum"]] = fid
        obj = load("file.json") | {"id": fid, "filename": form["file_name"], "processing_status": "PENDING"}
        self.files[fid] = obj
        return httpx.Response(302, headers={"Location": f"{UPLOAD_HOST}/put/{fid}?sig=abc",
                                            "X-Together-File-Id": fid})

    def put(self, request: httpx.Request, fid: str) -> httpx.Response:
        assert "authorization" not in request.headers, "the presigned PUT must not carry our API key"
        self.pending_bytes[fid] = request.read()
        self.files[fid]["bytes"] = len(self.pending_bytes[fid])
        return httpx.Response(200)

    def preprocess(self, request: httpx.Request, fid: str) -> httpx.Response:
        self.files[fid]["processing_status"] = self.processing.pop(0) if self.processing else "COMPLETED"
        return httpx.Response(200, json=self.files[fid])

    def list_files(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"object": "list", "data": list(self.files.values())})

    def get_file(self, request: httpx.Request, fid: str) -> httpx.Response:
        if fid not in self.files:
            return httpx.Response(404, json={"error": {"message": f"file {fid} not found"}})
        obj = self.files[fid]
        if obj["processing_status"] in ("PENDING", "QUEUED", "RUNNING") and not self.processing:
            obj["processing_status"] = "COMPLETED"
        elif self.processing:
            obj["processing_status"] = self.processing.pop(0)
        return httpx.Response(200, json=obj)

    def create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        jid = f"ft-{next(self.ids):08d}-fake"
        job = load("job.json") | {"id": jid, "model": body["model"], "suffix": body["suffix"],
                                  "training_file": body["training_file"], "n_epochs": body["n_epochs"],
                                  "training_type": body["training_type"]}
        self.jobs[jid] = job
        # A failure here happens after the job exists: exactly the ambiguous case.
        if (r := self.failure("create")) is not None:
            return r
        return httpx.Response(200, json=job)

    def list(self, request: httpx.Request) -> httpx.Response:
        if (r := self.failure("find")) is not None:
            return r
        return httpx.Response(200, json={"data": list(self.jobs.values())})

    def get(self, request: httpx.Request, jid: str) -> httpx.Response:
        if (r := self.failure("get")) is not None:
            return r
        if jid not in self.jobs:
            return httpx.Response(404, json={"error": {"message": f"job {jid} not found"}})
        return httpx.Response(200, json=self.jobs[jid])

    def cancel(self, request: httpx.Request, jid: str) -> httpx.Response:
        if (r := self.failure("cancel")) is not None:
            return r
        self.jobs[jid]["status"] = "cancel_requested"
        return httpx.Response(200, json=self.jobs[jid])

    def events(self, request: httpx.Request, jid: str) -> httpx.Response:
        if (r := self.failure("events")) is not None:
            return r
        return httpx.Response(200, json=load("events.json") if self.jobs[jid]["status"] == "user_error"
                              else {"data": load("events.json")["data"][:2]})

    # -- dedicated endpoints (v1) ----------------------------------------------------------------

    def create_endpoint(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        eid = f"endpoint-{next(self.ids):08d}-0000-4000-8000-000000000000"
        endpoint = load("dedicated_endpoint.json") | {
            "id": eid, "model": body["model"], "hardware": body["hardware"], "display_name": body.get("display_name"),
            "name": f"{body['model']}-{eid[9:17]}", "autoscaling": body["autoscaling"], "state": "PENDING"}
        self.endpoints[eid] = endpoint
        if (r := self.failure("deploy")) is not None:  # after the endpoint exists: the answer is lost
            return r
        return httpx.Response(200, json=endpoint)

    def list_endpoints(self, request: httpx.Request) -> httpx.Response:
        keep = ("object", "id", "name", "model", "type", "owner", "state", "created_at")  # ListEndpoint
        mine = [{k: e[k] for k in keep} for e in self.endpoints.values()]
        return httpx.Response(200, json={"object": "list", "data": load("endpoints_list.json")["data"] + mine})

    def get_endpoint(self, request: httpx.Request, eid: str) -> httpx.Response:
        if eid.startswith("endpoint-5f8e1a7c"):  # the account's other endpoint, from the list fixture
            return httpx.Response(200, json=load("dedicated_endpoint.json") | load("endpoints_list.json")["data"][0]
                                  | {"display_name": "someone else's"})
        endpoint = self.endpoints.get(eid)
        if endpoint is None:
            return httpx.Response(404, json=load("error_400.json"))
        if endpoint["state"] == "PENDING":  # comes up after one look
            endpoint["state"] = "STARTED"
        return httpx.Response(200, json=endpoint)

    def delete_endpoint(self, request: httpx.Request, eid: str) -> httpx.Response:
        if self.endpoints.pop(eid, None) is None:
            return httpx.Response(404, json=load("error_400.json"))
        return httpx.Response(200, json={})

    def chat(self, request: httpx.Request) -> httpx.Response:
        """A full fine-tune answers only through a STARTED dedicated endpoint."""
        model = json.loads(request.content)["model"]
        self.chats.append(model)
        served = {e["name"] for e in self.endpoints.values() if e["state"] == "STARTED"}
        if model not in served and any(j.get("model_output_name") == model and
                                       (j.get("training_type") or {}).get("type") == "Full"
                                       for j in self.jobs.values()):
            return httpx.Response(400, json=load("error_400.json"))
        return httpx.Response(200, json=load("chat.json"))

    def install(self) -> None:
        r = self.router
        r.post(f"{BASE}/endpoints").mock(side_effect=self.create_endpoint)
        r.get(url__regex=rf"{BASE}/endpoints(\?.*)?$").mock(side_effect=self.list_endpoints)
        r.get(url__regex=rf"{BASE}/endpoints/(?P<eid>[^/?]+)$").mock(side_effect=self.get_endpoint)
        r.delete(url__regex=rf"{BASE}/endpoints/(?P<eid>[^/?]+)$").mock(side_effect=self.delete_endpoint)
        r.post(f"{BASE}/chat/completions").mock(side_effect=self.chat)
        r.post(f"{BASE}/files").mock(side_effect=self.register)
        r.put(url__regex=rf"{UPLOAD_HOST}/put/(?P<fid>[^?]+).*").mock(side_effect=self.put)
        r.post(url__regex=rf"{BASE}/files/(?P<fid>[^/]+)/preprocess").mock(side_effect=self.preprocess)
        r.get(url__regex=rf"{BASE}/files/(?P<fid>[^/]+)$").mock(side_effect=self.get_file)
        r.get(f"{BASE}/files").mock(side_effect=self.list_files)
        r.get(f"{BASE}/fine-tunes").mock(side_effect=self.list)
        r.post(f"{BASE}/fine-tunes").mock(side_effect=self.create)
        r.get(url__regex=rf"{BASE}/fine-tunes/(?P<jid>ft-[^/]+)$").mock(side_effect=self.get)
        r.post(url__regex=rf"{BASE}/fine-tunes/(?P<jid>ft-[^/]+)/cancel").mock(side_effect=self.cancel)
        r.get(url__regex=rf"{BASE}/fine-tunes/(?P<jid>ft-[^/]+)/events").mock(side_effect=self.events)
        r.get(url__regex=rf"{BASE}/fine-tunes/(?P<jid>ft-[^/]+)/checkpoints").mock(
            return_value=httpx.Response(200, json=load("checkpoints.json")))
        r.get(url__regex=rf"{BASE}/fine-tunes/(?P<jid>ft-[^/]+)/metrics").mock(
            return_value=httpx.Response(200, json=load("metrics.json")))


def _form(request: httpx.Request) -> dict[str, str]:
    """The fields of a multipart form without files (what the register call sends)."""
    ctype = request.headers["content-type"]
    assert ctype.startswith("multipart/form-data"), ctype
    boundary = ctype.split("boundary=")[1].encode()
    fields = {}
    for part in request.read().split(b"--" + boundary):
        if b"name=" not in part:
            continue
        head, _, value = part.partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        fields[name] = value.rstrip(b"\r\n").decode()
    return fields


@dataclass
class TogetherHarness:
    """ContractHarness over TogetherProvider and FakeTogether."""

    provider: TogetherProvider
    fake: FakeTogether
    raw_statuses: dict[str, RunStatus] = field(default_factory=lambda: dict(STATUS_TABLE))

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Pin the job's status in the fake."""
        self.fake.jobs[provider_job_id]["status"] = raw_status

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Queue one HTTP failure."""
        assert operation in OPS, operation
        self.fake.failures.setdefault(operation, []).append((http_status, retry_after))

    def jobs_created(self) -> int:
        """Jobs in the fake."""
        return len(self.fake.jobs)


@pytest.fixture
def fake() -> Iterator[FakeTogether]:
    """The fake Together API, mocked for the duration of a test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        state = FakeTogether(router)
        state.install()
        yield state


@pytest.fixture
def provider(fake: FakeTogether) -> Iterator[TogetherProvider]:
    """A TogetherProvider talking to the fake through an injected httpx.Client."""
    with httpx.Client() as http:
        p = TogetherProvider(ProviderConfig(env={"TOGETHER_API_KEY": API_KEY}, http_client=http),
                             sleep=lambda s: None)
        yield p
        p.close()


@pytest.fixture
def harness(provider: TogetherProvider, fake: FakeTogether) -> TogetherHarness:
    """The contract harness."""
    return TogetherHarness(provider, fake)


@pytest.fixture
def fixture_json() -> Any:
    """Load a fixture file by name (a deep copy each time)."""
    return lambda name: copy.deepcopy(load(name))
