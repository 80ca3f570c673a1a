"""A small stateful fake of the Vertex tuningJobs REST API and the Cloud Storage JSON API, behind
respx routes, plus the ContractHarness that steers it and the example create request.

Loaded by conftest.py as the module ``fakevertex`` (test directories are not packages)."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import respx

from tuneops.provider import CreateRequest, Hyperparameters, RunStatus, Upload
from tuneops.providers.vertex import VertexProvider
from tuneops.providers.vertex.status import STATE_TABLE

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = "tuneops-test"
REGION = "us-central1"
BUCKET = "tuneops-data"
TOKEN = "ya29.test-token-never-logged"
HOST = f"{REGION}-aiplatform.googleapis.com"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
STORAGE = "storage.googleapis.com"

# Every documented state, plus the finer phases that refine a live state.
RAW_STATUSES: dict[str, RunStatus] = {
    **STATE_TABLE,
    "JOB_STATE_PENDING/TUNING_JOB_STATE_WAITING_FOR_QUOTA": RunStatus.QUEUED,
    "JOB_STATE_QUEUED/TUNING_JOB_STATE_WAITING_FOR_CAPACITY": RunStatus.QUEUED,
    "JOB_STATE_RUNNING/TUNING_JOB_STATE_PROCESSING_DATASET": RunStatus.VALIDATING,
    "JOB_STATE_RUNNING/TUNING_JOB_STATE_TUNING": RunStatus.RUNNING,
    "JOB_STATE_RUNNING/TUNING_JOB_STATE_POST_PROCESSING": RunStatus.RUNNING,
}

_RPC_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
               409: "ABORTED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
_TERMINAL = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED",
             "JOB_STATE_PARTIALLY_SUCCEEDED"}


def load(name: str) -> dict[str, Any]:
    """A JSON fixture."""
    return json.loads((FIXTURES / name).read_text())


def error(status: int, message: str = "", retry_after: float | None = None) -> httpx.Response:
    """A Google API error response (google.rpc.Status JSON)."""
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    return httpx.Response(status, headers=headers, json={"error": {
        "code": status, "message": message or f"fake error {status}", "status": _RPC_STATUS.get(status, "UNKNOWN")}})


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeVertex:
    """Tuning jobs, bucket objects and queued failures, served through respx side effects."""

    router: respx.MockRouter
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)
    failures: dict[str, list[httpx.Response | Exception]] = field(default_factory=dict)
    requests: list[tuple[str, httpx.Request]] = field(default_factory=list)
    reject_filter: bool = False
    after_stat: Callable[[str], None] | None = None  # runs after an existence check (to stage races)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(9001))

    def __post_init__(self) -> None:
        r = self.router
        jobs = f"/v1/{PARENT}/tuningJobs"
        r.route(method="POST", host=HOST, path=jobs).mock(side_effect=self._handler("create", self.create))
        # Creates using v1beta1-only fields (tuningMode, learningRate, batchSize) go to v1beta1.
        r.route(method="POST", host=HOST, path=f"/v1beta1/{PARENT}/tuningJobs").mock(
            side_effect=self._handler("create", self.create))
        r.route(method="GET", host=HOST, path=jobs).mock(side_effect=self._handler("find", self.list))
        r.route(method="GET", host=HOST, path__regex=rf"^{jobs}/(?P<jid>\d+)$").mock(
            side_effect=self._handler("get", self.get))
        r.route(method="POST", host=HOST, path__regex=rf"^{jobs}/(?P<jid>\d+):cancel$").mock(
            side_effect=self._handler("cancel", self.cancel))
        r.route(method="POST", host=HOST, path__regex=r"^/v1/.+:generateContent$").mock(
            side_effect=self._handler("infer", lambda request: httpx.Response(200, json=load("generate_content.json"))))
        r.route(method="GET", host=STORAGE, path__regex=r"^/storage/v1/b/(?P<bucket>[^/]+)/o/(?P<name>.+)$").mock(
            side_effect=self._handler("upload", self.stat))
        r.route(method="POST", host=STORAGE, path__regex=r"^/upload/storage/v1/b/(?P<bucket>[^/]+)/o$").mock(
            side_effect=self._handler("upload", self.put))

    def _handler(self, operation: str, fn: Callable[..., httpx.Response]) -> Callable[..., httpx.Response]:
        def handle(request: httpx.Request, **kwargs: Any) -> httpx.Response:
            self.requests.append((operation, request))
            queue = self.failures.get(operation)
            if queue:
                failure = queue.pop(0)
                if isinstance(failure, Exception):
                    raise failure  # a transport failure (timeout, reset) as httpx raises it
                return failure
            return fn(request, **kwargs)
        return handle

    def calls(self, operation: str, method: str | None = None) -> list[httpx.Request]:
        """The requests the fake received for one operation."""
        return [r for op, r in self.requests if op == operation and (method is None or r.method == method)]

    # -- tuning jobs -----------------------------------------------------------------------------

    def create(self, request: httpx.Request) -> httpx.Response:
        from google.genai import types

        body = json.loads(request.content)
        types.TuningJob.model_validate(body)  # a misspelt field in the create body fails the test here
        jid = str(next(self._ids))
        now = _now()
        job = {**body, "name": f"{PARENT}/tuningJobs/{jid}", "state": "JOB_STATE_PENDING",
               "createTime": now, "updateTime": now}
        self.jobs[jid] = job
        return httpx.Response(200, json=job)

    def get(self, request: httpx.Request, jid: str) -> httpx.Response:
        if jid not in self.jobs:
            return error(404, f"TuningJob {jid} not found")
        return httpx.Response(200, json=self.jobs[jid])

    def list(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        jobs = list(reversed(self.jobs.values()))
        flt = params.get("filter")
        if flt:
            if self.reject_filter:
                return error(400, f"Unsupported filter: {flt}")
            m = re.fullmatch(r'labels\.([a-z0-9_-]+)="([^"]*)"', flt)
            assert m, f"unexpected filter {flt}"
            jobs = [j for j in jobs if (j.get("labels") or {}).get(m.group(1)) == m.group(2)]
        size = int(params.get("pageSize", 100))
        start = int(params.get("pageToken") or 0)
        page: dict[str, Any] = {"tuningJobs": jobs[start:start + size]}
        if start + size < len(jobs):
            page["nextPageToken"] = str(start + size)
        return httpx.Response(200, json=page)

    def cancel(self, request: httpx.Request, jid: str) -> httpx.Response:
        job = self.jobs.get(jid)
        if job is None:
            return error(404, f"TuningJob {jid} not found")
        if job["state"] not in _TERMINAL:
            job["state"] = "JOB_STATE_CANCELLING"
            job.pop("tuningJobState", None)
        return httpx.Response(200, json={})

    def set_state(self, jid: str, raw: str) -> None:
        """Make job ``jid`` report ``state[/tuningJobState]``; a success gets a tuned model."""
        job = self.jobs[jid]
        state, _, phase = raw.partition("/")
        job["state"] = state
        if phase:
            job["tuningJobState"] = phase
        else:
            job.pop("tuningJobState", None)
        if state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED"):
            job["tunedModel"] = {"model": f"projects/123/locations/{REGION}/models/{jid}@1",
                                 "endpoint": f"projects/123/locations/{REGION}/endpoints/{jid}"}

    # -- cloud storage ---------------------------------------------------------------------------

    def _object(self, bucket: str, name: str) -> dict[str, Any]:
        meta = load("gcs_object.json")
        meta.update(name=name, bucket=bucket, size=str(len(self.objects[name])), id=f"{bucket}/{name}/1")
        return meta

    def stat(self, request: httpx.Request, bucket: str, name: str) -> httpx.Response:
        from urllib.parse import unquote

        name = unquote(name)
        if bucket != BUCKET or name not in self.objects:
            response = httpx.Response(404, json={"error": {"code": 404, "message": f"No such object: {bucket}/{name}",
                                                           "errors": [{"reason": "notFound", "domain": "global"}]}})
        else:
            response = httpx.Response(200, json=self._object(bucket, name))
        if self.after_stat is not None:
            self.after_stat(name)
        return response

    def put(self, request: httpx.Request, bucket: str) -> httpx.Response:
        params = request.url.params
        assert params.get("uploadType") == "media"
        name = params["name"]
        if params.get("ifGenerationMatch") == "0" and name in self.objects:
            return httpx.Response(412, json={"error": {"code": 412, "message": "conditionNotMet",
                                                       "errors": [{"reason": "conditionNotMet"}]}})
        self.objects[name] = request.read()
        return httpx.Response(200, json=self._object(bucket, name))


@dataclass
class VertexHarness:
    """ContractHarness over VertexProvider and FakeVertex."""

    provider: VertexProvider
    fake: FakeVertex
    raw_statuses: dict[str, RunStatus] = field(default_factory=lambda: dict(RAW_STATUSES))

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Pin the job's state (and phase)."""
        self.fake.set_state(provider_job_id.rsplit("/", 1)[-1], raw_status)

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Queue an error response for the next request of ``operation``."""
        self.fake.failures.setdefault(operation, []).append(error(http_status, retry_after=retry_after))

    def jobs_created(self) -> int:
        """Jobs the fake holds."""
        return len(self.fake.jobs)


KEY = "tuneops-run_01jexample000000000"
TRAIN_SHA = "1f0b3c" + "0" * 58
VALID_SHA = "9ad2e7" + "0" * 58


def example_request(method: str = "sft", **hp: Any) -> CreateRequest:
    """The example job spec (support-triage, 3 epochs, suffix triage) as a Vertex create request."""
    train = Upload("vertex", TRAIN_SHA, f"gs://{BUCKET}/tuneops/{TRAIN_SHA}.jsonl", 2048, f"{TRAIN_SHA}.jsonl")
    valid = Upload("vertex", VALID_SHA, f"gs://{BUCKET}/tuneops/{VALID_SHA}.jsonl", 512, f"{VALID_SHA}.jsonl")
    return CreateRequest(job_name="support-triage", base_model="gemini-2.5-flash", method=method,  # type: ignore[arg-type]
                         training=train, validation=valid, hyperparameters=Hyperparameters(**{"epochs": 3, **hp}),
                         idempotency_key=KEY, suffix="triage")
