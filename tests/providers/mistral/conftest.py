"""A small stateful fake of Mistral's fine-tuning API behind respx, and the contract harness."""

from __future__ import annotations

import copy
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tuneops.provider import ProviderConfig, RunStatus
from tuneops.providers.mistral import MistralProvider
from tuneops.providers.mistral.status import AWAITING_START, STATUS_TABLE

FIXTURES = Path(__file__).parent / "fixtures"
BASE = "https://api.mistral.ai/v1"
API_KEY = "ms-test-key-0123456789"
JOB = r"(?P<jid>[0-9a-f-]{36})"


def load(name: str) -> Any:
    """A fixture file's JSON."""
    return json.loads((FIXTURES / name).read_text())


@dataclass
class FakeMistral:
    """Files and jobs in memory. A created job validates on its first read; ``start`` queues it."""

    router: respx.Router
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    pinned: set[str] = field(default_factory=set)
    starts: list[str] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    queued: dict[str, list[httpx.Response]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def respond_next(self, op: str, response: httpx.Response) -> None:
        """Answer the next ``op`` with exactly this response."""
        self.queued.setdefault(op, []).append(response)

    def _queued(self, op: str) -> httpx.Response | None:
        queue = self.queued.get(op)
        return queue.pop(0) if queue else None

    def _id(self) -> str:
        return f"00000000-0000-4000-8000-{next(self.ids):012d}"

    def upload(self, request: httpx.Request) -> httpx.Response:
        if (r := self._queued("upload")) is not None:
            return r
        body = request.read()
        assert b'name="purpose"' in body and b"fine-tune" in body
        fid = self._id()
        part = re.search(rb'name="file"; filename="([^"]+)"\r\n(?:[^\r]+\r\n)*\r\n(.*?)\r\n--', body, re.S)
        name, content = (part.group(1).decode(), part.group(2)) if part else ("train.jsonl", body)
        self.files[fid] = load("file.json") | {"id": fid, "bytes": len(content), "filename": name}
        return httpx.Response(200, json=self.files[fid])

    def get_file(self, request: httpx.Request, fid: str) -> httpx.Response:
        if fid not in self.files:
            return httpx.Response(404, json={"detail": "File not found"})
        return httpx.Response(200, json=self.files[fid])

    def list_files(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": list(self.files.values()), "object": "list",
                                         "total": len(self.files)})

    def create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.params.get("dry_run") == "true":
            return httpx.Response(200, json=load("dry_run.json"))
        self.bodies.append(body)
        jid = self._id()
        job = load("job.json") | {"id": jid, "model": body["model"], "suffix": body["suffix"],
                                  "auto_start": body["auto_start"],
                                  "training_files": [f["file_id"] for f in body["training_files"]]}
        self.jobs[jid] = job | {"events": [], "checkpoints": []}
        if (r := self._queued("create")) is not None:  # after the job exists: the ambiguous case
            return r
        return httpx.Response(200, json=job)

    def list(self, request: httpx.Request) -> httpx.Response:
        if (r := self._queued("find")) is not None:
            return r
        page, size = int(request.url.params.get("page", 0)), int(request.url.params.get("page_size", 100))
        items = [{k: v for k, v in j.items() if k not in ("events", "checkpoints")} for j in self.jobs.values()]
        return httpx.Response(200, json={"data": items[page * size:(page + 1) * size], "total": len(items),
                                         "object": "list"})

    def get(self, request: httpx.Request, jid: str) -> httpx.Response:
        if (r := self._queued("get")) is not None:
            return r
        job = self.jobs.get(jid)
        if job is None:
            return httpx.Response(404, json={"object": "error", "message": "job not found", "type": "not_found"})
        if jid not in self.pinned and job["status"] in ("QUEUED", "VALIDATING") and not job["auto_start"] \
                and jid not in self.starts:
            job["status"] = AWAITING_START
        return httpx.Response(200, json=job)

    def start(self, request: httpx.Request, jid: str) -> httpx.Response:
        job = self.jobs[jid]
        if job["status"] != AWAITING_START:
            return httpx.Response(400, json={"object": "error", "message": "job is not validated",
                                             "type": "invalid_request_error"})
        self.starts.append(jid)
        job["status"] = "QUEUED"
        return httpx.Response(200, json=job)

    def cancel(self, request: httpx.Request, jid: str) -> httpx.Response:
        self.jobs[jid]["status"] = "CANCELLATION_REQUESTED"
        return httpx.Response(200, json=self.jobs[jid])

    def install(self) -> None:
        r = self.router
        r.post(f"{BASE}/files").mock(side_effect=self.upload)
        r.get(url__regex=rf"{BASE}/files/(?P<fid>[^/?]+)$").mock(side_effect=self.get_file)
        r.get(url__regex=rf"{BASE}/files(\?.*)?$").mock(side_effect=self.list_files)
        r.post(url__regex=rf"{BASE}/fine_tuning/jobs(\?.*)?$").mock(side_effect=self.create)
        r.get(url__regex=rf"{BASE}/fine_tuning/jobs(\?.*)?$").mock(side_effect=self.list)
        r.get(url__regex=rf"{BASE}/fine_tuning/jobs/{JOB}$").mock(side_effect=self.get)
        r.post(url__regex=rf"{BASE}/fine_tuning/jobs/{JOB}/start$").mock(side_effect=self.start)
        r.post(url__regex=rf"{BASE}/fine_tuning/jobs/{JOB}/cancel$").mock(side_effect=self.cancel)


@dataclass
class MistralHarness:
    """ContractHarness over MistralProvider and FakeMistral."""

    provider: MistralProvider
    fake: FakeMistral
    # VALIDATED is left out on purpose: get() starts a validated job that waits for its start
    # (two-phase creation), so it never reports VALIDATED back; test_mistral.py covers that path.
    raw_statuses: dict[str, RunStatus] = field(
        default_factory=lambda: {k: v for k, v in STATUS_TABLE.items() if k != AWAITING_START})

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Pin the job's status in the fake."""
        self.fake.pinned.add(provider_job_id)
        self.fake.jobs[provider_job_id]["status"] = raw_status

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Queue one HTTP failure."""
        headers = {"retry-after": str(retry_after)} if retry_after is not None else {}
        self.fake.respond_next(operation, httpx.Response(http_status, headers=headers, json={
            "object": "error", "message": "injected failure", "type": "invalid_request_error", "code": None}))

    def jobs_created(self) -> int:
        """Jobs in the fake."""
        return len(self.fake.jobs)


@pytest.fixture
def fake() -> Iterator[FakeMistral]:
    """The fake Mistral API, mocked for the duration of a test."""
    with respx.mock(assert_all_called=False, assert_all_mocked=True) as router:
        state = FakeMistral(router)
        state.install()
        yield state


@pytest.fixture
def provider(fake: FakeMistral) -> Iterator[MistralProvider]:
    """A MistralProvider talking to the fake through an injected httpx.Client."""
    with httpx.Client() as http:
        p = MistralProvider(ProviderConfig(env={"MISTRAL_API_KEY": API_KEY}, http_client=http),
                            sleep=lambda s: None)
        yield p
        p.close()


@pytest.fixture
def harness(provider: MistralProvider, fake: FakeMistral) -> MistralHarness:
    """The contract harness."""
    return MistralHarness(provider, fake)


@pytest.fixture
def fixture_json() -> Any:
    """Load a fixture file by name (a deep copy each time)."""
    return lambda name: copy.deepcopy(load(name))
