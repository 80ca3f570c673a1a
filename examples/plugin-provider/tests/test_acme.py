"""AcmeProvider against a respx fake of the Acme Tune API: tuneops's provider contract suite, plus the
behaviour that is Acme's own. Offline: respx answers every request; nothing leaves the machine."""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import respx
from tuneops_acme import STATUSES, AcmeProvider

from tuneops.errors import MissingCredential
from tuneops.provider import ProviderConfig, RunStatus
from tuneops.testing import ProviderContract

BASE = "https://api.acme-tune.example/v1"
JOB = r"/jobs/(?P<jid>job_[0-9]+)"


@dataclass
class FakeAcme:
    """Acme's files and jobs in memory; ``failures`` answers the next call of an operation with a status."""

    files: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, float | None]]] = field(default_factory=dict)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def failure(self, op: str) -> httpx.Response | None:
        queue = self.failures.get(op)
        if not queue:
            return None
        status, retry_after = queue.pop(0)
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return httpx.Response(status, headers=headers, json={"error": {"code": f"e{status}", "message": "no"}})

    def upload(self, request: httpx.Request) -> httpx.Response:
        if (r := self.failure("upload")) is not None:
            return r
        assert request.headers["Authorization"] == "Bearer acme-test-key"
        fid = f"file_{next(self.ids)}"
        body = request.read()
        name = re.search(rb'filename="([^"]+)"', body)
        _headers, _, rest = body.partition(b"\r\n\r\n")  # the multipart part's headers, then the file
        self.files[fid] = len(rest.rsplit(b"\r\n--", 1)[0])
        self.names[fid] = name.group(1).decode() if name else "file"
        return httpx.Response(200, json=self.record(fid))

    def record(self, fid: str) -> dict[str, Any]:
        return {"id": fid, "bytes": self.files[fid], "filename": self.names[fid], "created_at": 1_700_000_000}

    def file(self, request: httpx.Request, fid: str) -> httpx.Response:
        if fid not in self.files:
            return httpx.Response(404, json={"error": {"code": "not_found", "message": f"no file {fid}"}})
        return httpx.Response(200, json=self.record(fid))

    def file_listing(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [self.record(fid) for fid in self.files]})

    def create(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        jid = f"job_{next(self.ids)}"
        self.jobs[jid] = {"id": jid, "status": "queued", "client_token": body["client_token"],
                          "base_model": body["base_model"], "created_at": int(time.time()), "fine_tuned_model": None}
        # A failure after the job exists: the answer is lost, the job is not (an ambiguous create).
        return self.failure("create") or httpx.Response(200, json=self.jobs[jid])

    def listing(self, request: httpx.Request) -> httpx.Response:
        if (r := self.failure("find")) is not None:
            return r
        token = request.url.params.get("client_token")
        jobs = [j for j in reversed(self.jobs.values()) if token is None or j["client_token"] == token]
        return httpx.Response(200, json={"data": jobs[: int(request.url.params.get("limit", 100))]})

    def get(self, request: httpx.Request, jid: str) -> httpx.Response:
        if (r := self.failure("get")) is not None:
            return r
        job = self.jobs.get(jid)
        return httpx.Response(200, json=job) if job else httpx.Response(404, json={"error": {"message": "no job"}})

    def cancel(self, request: httpx.Request, jid: str) -> httpx.Response:
        self.jobs[jid]["status"] = "cancelled"
        return httpx.Response(200, json=self.jobs[jid])

    def events(self, request: httpx.Request, jid: str) -> httpx.Response:
        job = self.jobs[jid]
        return httpx.Response(200, json={"data": [{"id": f"ev_{jid}_1", "created_at": job["created_at"],
                                                   "level": "info", "message": f"job is {job['status']}"}]})

    def chat(self, request: httpx.Request) -> httpx.Response:
        last = json.loads(request.content)["messages"][-1]["content"]
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": last}}],
                                         "usage": {"prompt_tokens": 5, "completion_tokens": 2}})


@dataclass
class AcmeHarness:
    """The contract harness: the adapter plus the hooks that steer the fake."""

    provider: AcmeProvider
    fake: FakeAcme
    raw_statuses: Mapping[str, RunStatus] = field(default_factory=lambda: dict(STATUSES))

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        self.fake.jobs[provider_job_id]["status"] = raw_status

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        self.fake.failures.setdefault(operation, []).append((http_status, retry_after))

    def jobs_created(self) -> int:
        return len(self.fake.jobs)


@pytest.fixture
def fake() -> Iterator[FakeAcme]:
    acme = FakeAcme()
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post("/files").mock(side_effect=acme.upload)
        router.get("/files").mock(side_effect=acme.file_listing)
        router.get(url__regex=r"/files/(?P<fid>[^/]+)$").mock(side_effect=acme.file)
        router.post("/jobs").mock(side_effect=acme.create)
        router.get("/jobs").mock(side_effect=acme.listing)
        router.get(url__regex=JOB + "$").mock(side_effect=acme.get)
        router.post(url__regex=JOB + "/cancel$").mock(side_effect=acme.cancel)
        router.get(url__regex=JOB + "/events$").mock(side_effect=acme.events)
        router.post("/chat/completions").mock(side_effect=acme.chat)
        yield acme


@pytest.fixture
def harness(fake: FakeAcme) -> Iterator[AcmeHarness]:
    provider = AcmeProvider(ProviderConfig(env={"ACME_API_KEY": "acme-test-key"}))
    yield AcmeHarness(provider, fake)
    provider.close()


class TestAcmeContract(ProviderContract):
    """Everything tuneops relies on from any provider."""

    base_model = "acme-small"


def test_a_missing_key_is_refused_before_any_call() -> None:
    with pytest.raises(MissingCredential, match="ACME_API_KEY"):
        AcmeProvider(ProviderConfig(env={}))


def test_a_succeeded_job_carries_its_model(harness: AcmeHarness, fake: FakeAcme, tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = harness.provider.create(TestAcmeContract()._request(harness, tmp_path))  # type: ignore[arg-type]
    fake.jobs[job.provider_job_id] |= {"status": "succeeded", "fine_tuned_model": "acme-small:ft:1",
                                       "trained_tokens": 1200}
    done = harness.provider.get(job.provider_job_id)
    assert (done.status, done.model_id, done.trained_tokens) == (RunStatus.SUCCEEDED, "acme-small:ft:1", 1200)
    assert [e.message for e in harness.provider.events(job.provider_job_id)] == ["job is succeeded"]


def test_evals_reach_the_chat_endpoint(harness: AcmeHarness) -> None:
    answer = harness.provider.infer("acme-small:ft:1", [{"role": "user", "content": "billing"}])
    assert (answer.text, answer.input_tokens, answer.output_tokens) == ("billing", 5, 2)
