"""Test helpers for tuneops and for provider plugin authors: a fake provider and the contract suite.

A plugin author subclasses ``ProviderContract`` in a pytest module and provides one fixture,
``harness``, returning a ``ContractHarness``: the adapter under test wired to a fake of its API
(respx routes, moto, or a local server) plus hooks to steer that fake. Every built-in adapter runs
the same suite; docs/plugins.md walks through it with examples/plugin-provider/.

The contract suite runs under pytest, which a production install of tuneops does not pull in: install
the test extra, ``pip install 'tuneops[test]'`` (pytest and respx). ``FakeProvider`` needs neither.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

from tuneops import progress
from tuneops.clock import utcnow
from tuneops.errors import (
    AmbiguousCreate,
    PermanentProviderError,
    TransientProviderError,
    UnsupportedOperation,
)
from tuneops.provider import (
    Capabilities,
    Checkpoint,
    Completion,
    CreateRequest,
    DeploymentStatus,
    DeployRequest,
    Hyperparameters,
    MetricPoint,
    Provider,
    ProviderConfig,
    ProviderDeployment,
    ProviderEvent,
    ProviderJob,
    RunStatus,
    ServingProvider,
    Upload,
    upload_filename,
)


class _Pytest:
    """pytest, imported on first use: the contract suite needs it, FakeProvider and the helpers do not."""

    def __getattr__(self, name: str) -> Any:
        try:
            import pytest as real
        except ImportError:
            raise ImportError("tuneops.testing's contract suite runs under pytest, which tuneops does not "
                              "install: pip install 'tuneops[test]'") from None
        return getattr(real, name)


pytest = _Pytest()


class ContractHarness(Protocol):
    """The adapter under test plus the hooks the contract suite uses to steer its fake back end."""

    provider: Provider
    # Every raw status the provider documents, with the RunStatus it must map to.
    raw_statuses: Mapping[str, RunStatus]

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Make the fake report ``raw_status`` for this job from now on."""
        ...

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Make the next ``operation`` ("create", "get", "upload", "find") answer with this HTTP status."""
        ...

    def jobs_created(self) -> int:
        """How many jobs the fake back end holds (to count duplicates)."""
        ...


def sample_records(n: int = 12) -> list[dict[str, Any]]:
    """Small canonical chat records for contract tests."""
    labels = ("billing", "technical", "account")
    return [{"messages": [{"role": "system", "content": "Label the ticket."},
                          {"role": "user", "content": f"ticket number {i} about {labels[i % 3]}"},
                          {"role": "assistant", "content": labels[i % 3]}]} for i in range(n)]


def prepared_file(provider: Provider, directory: Path, method: str = "sft") -> tuple[Path, str]:
    """Write sample records in the provider's format; returns (path, sha256)."""
    data = b"".join(provider.prepare(sample_records(), method))
    digest = hashlib.sha256(data).hexdigest()
    path = directory / f"{digest}.jsonl"
    path.write_bytes(data)
    return path, digest


def another_intent(loaded: Any, seed: int) -> Any:
    """The same loaded spec with another training seed: another intent, so ``submit`` starts another run."""
    spec = loaded.spec
    hp = spec.hyperparameters.model_copy(update={"seed": seed})
    return loaded.model_copy(update={"spec": spec.model_copy(update={"hyperparameters": hp})})


class StepRecorder:
    """A ``tuneops.progress`` reporter that keeps every step it hears of (and the ones that failed)."""

    def __init__(self) -> None:
        self.steps: list[progress.Step] = []
        self.failed: list[progress.Step] = []

    def start(self, step: progress.Step) -> None:
        """Keep the step."""
        self.steps.append(step)

    def advance(self, step: progress.Step, n: int) -> None:
        """Nothing: the step counts its own bytes."""

    def end(self, step: progress.Step, error: BaseException | None) -> None:
        """Note a failed step."""
        if error is not None:
            self.failed.append(step)


class ProviderContract:
    """The behaviour every provider adapter guarantees; subclass it and provide a ``harness`` fixture."""

    base_model: ClassVar[str] = ""  # a base model the fake accepts; subclasses set it
    served_model: ClassVar[str] = ""  # a fine-tuned model id the fake can deploy (serving providers)
    serve_hardware: ClassVar[str | None] = None  # the hardware a deployment asks for, where one is required

    def _request(self, harness: ContractHarness, tmp_path: Path, key: str = "tuneops-run_contract") -> CreateRequest:
        path, digest = prepared_file(harness.provider, tmp_path)
        upload = harness.provider.upload(path, sha256=digest)
        return CreateRequest(job_name="contract", base_model=self.base_model, method="sft",
                             training=upload, validation=None, hyperparameters=Hyperparameters(epochs=1),
                             idempotency_key=key, suffix="contract")

    def test_declares_name_and_capabilities(self, harness: ContractHarness) -> None:
        assert isinstance(harness.provider, Provider)
        assert isinstance(harness.provider.name, str) and harness.provider.name
        assert isinstance(harness.provider.capabilities, Capabilities)
        assert "sft" in harness.provider.capabilities.methods

    def test_the_listing_shows_the_adapters_own_capabilities(self, harness: ContractHarness) -> None:
        # `tuneops providers list` reads a declared `tuneops.capabilities` entry point without importing the
        # adapter; a declaration that drifted from the adapter would list what the provider does not do.
        from tuneops import registry

        name = harness.provider.name
        if name not in registry.names():
            pytest.skip(f"{name!r} is not installed as a provider entry point")
        assert registry.capabilities(name) == type(harness.provider).capabilities

    def test_upload_returns_a_provider_file_reference(self, harness: ContractHarness, tmp_path: Path) -> None:
        path, digest = prepared_file(harness.provider, tmp_path)
        upload = harness.provider.upload(path, sha256=digest)
        assert isinstance(upload, Upload)
        assert upload.sha256 == digest and upload.provider_file_id

    def test_an_upload_verifies_and_is_found_by_its_bytes(self, harness: ContractHarness, tmp_path: Path) -> None:
        path, digest = prepared_file(harness.provider, tmp_path)
        upload = harness.provider.upload(path, sha256=digest)
        assert harness.provider.verify_upload(upload) is True
        assert isinstance(harness.provider.location(), str) and harness.provider.location()
        found = harness.provider.find_uploads(digest, upload.bytes)
        assert upload.provider_file_id in [u.provider_file_id for u in found]

    def test_an_upload_reports_its_bytes(self, harness: ContractHarness, tmp_path: Path) -> None:
        path, digest = prepared_file(harness.provider, tmp_path)
        recorder = StepRecorder()
        with progress.reporting(recorder):
            harness.provider.upload(path, sha256=digest)
        sent = [s for s in recorder.steps if s.verb == "uploading"]
        if not sent and not type(harness.provider).__module__.startswith("tuneops."):
            pytest.skip("the adapter reports no upload progress (optional for a plugin: see tuneops.progress)")
        size = path.stat().st_size
        assert sent and all(s.total == size for s in sent), "an upload step's total is the file's size"
        assert sent[-1].done == size and not recorder.failed, "the upload reported every byte it sent"

    def test_a_missing_upload_does_not_verify(self, harness: ContractHarness, tmp_path: Path) -> None:
        path, digest = prepared_file(harness.provider, tmp_path)
        upload = harness.provider.upload(path, sha256=digest)
        assert harness.provider.verify_upload(replace(upload, provider_file_id=upload.provider_file_id + "x")) is False

    def test_create_tags_the_job_so_find_returns_it(self, harness: ContractHarness, tmp_path: Path) -> None:
        job = harness.provider.create(self._request(harness, tmp_path, key="tuneops-run_find"))
        assert isinstance(job, ProviderJob) and job.provider_job_id
        found = harness.provider.find("tuneops-run_find")
        assert [j.provider_job_id for j in found] == [job.provider_job_id]
        assert harness.provider.find("tuneops-run_other") == []

    def test_get_maps_every_documented_status(self, harness: ContractHarness, tmp_path: Path) -> None:
        job = harness.provider.create(self._request(harness, tmp_path))
        for raw, expected in harness.raw_statuses.items():
            harness.set_status(job.provider_job_id, raw)
            got = harness.provider.get(job.provider_job_id)
            assert (got.status, got.raw_status) == (expected, raw)

    def test_an_unknown_status_maps_to_unknown(self, harness: ContractHarness, tmp_path: Path) -> None:
        job = harness.provider.create(self._request(harness, tmp_path))
        harness.set_status(job.provider_job_id, "SOMETHING_NEW_2031")
        got = harness.provider.get(job.provider_job_id)
        assert got.status is RunStatus.UNKNOWN and got.raw_status == "SOMETHING_NEW_2031"

    def test_rate_limit_is_transient_with_retry_after(self, harness: ContractHarness, tmp_path: Path) -> None:
        job = harness.provider.create(self._request(harness, tmp_path))
        harness.fail_next("get", 429, retry_after=3)
        with pytest.raises(TransientProviderError) as info:
            harness.provider.get(job.provider_job_id)
        assert info.value.retry_after == pytest.approx(3, abs=0.01)

    def test_a_server_error_on_create_is_ambiguous(self, harness: ContractHarness, tmp_path: Path) -> None:
        request = self._request(harness, tmp_path)
        harness.fail_next("create", 500)
        with pytest.raises(AmbiguousCreate):
            harness.provider.create(request)

    def test_a_bad_request_is_permanent(self, harness: ContractHarness, tmp_path: Path) -> None:
        job = harness.provider.create(self._request(harness, tmp_path))
        harness.fail_next("get", 400)
        with pytest.raises(PermanentProviderError):
            harness.provider.get(job.provider_job_id)

    def test_cancel_is_honoured_or_refused_clearly(self, harness: ContractHarness, tmp_path: Path) -> None:
        job = harness.provider.create(self._request(harness, tmp_path))
        if not harness.provider.capabilities.can_cancel:
            with pytest.raises(UnsupportedOperation):
                harness.provider.cancel(job.provider_job_id)
            return
        after = harness.provider.cancel(job.provider_job_id)
        assert after.status in (RunStatus.CANCELLING, RunStatus.CANCELLED)

    def test_pause_is_refused_clearly_where_unsupported(self, harness: ContractHarness, tmp_path: Path) -> None:
        if harness.provider.capabilities.can_pause:
            pytest.skip("this provider pauses; its own tests cover pause")  # not a contract gap
        job = harness.provider.create(self._request(harness, tmp_path))
        with pytest.raises(UnsupportedOperation, match=harness.provider.name):
            harness.provider.pause(job.provider_job_id)

    def test_events_and_metrics_are_lists_of_records(self, harness: ContractHarness, tmp_path: Path) -> None:
        job = harness.provider.create(self._request(harness, tmp_path))
        assert all(isinstance(e, ProviderEvent) for e in harness.provider.events(job.provider_job_id))
        assert all(isinstance(m, MetricPoint) for m in harness.provider.metrics(job.provider_job_id))
        assert all(isinstance(c, Checkpoint) for c in harness.provider.checkpoints(job.provider_job_id))

    def test_create_body_refuses_what_the_provider_cannot_express(self, harness: ContractHarness,
                                                                  tmp_path: Path) -> None:
        request = self._request(harness, tmp_path)
        caps = harness.provider.capabilities
        wrong = (Hyperparameters(learning_rate=1e-5) if caps.learning_rate == "multiplier"
                 else Hyperparameters(learning_rate_multiplier=2.0))
        with pytest.raises(UnsupportedOperation):
            harness.provider.create_body(replace(request, hyperparameters=wrong))
        if "dpo" not in caps.methods:
            with pytest.raises(UnsupportedOperation):
                harness.provider.create_body(replace(request, method="dpo"))


    def _serving(self, harness: ContractHarness) -> Any:
        if not isinstance(harness.provider, ServingProvider) or not harness.provider.capabilities.serve_modes:
            pytest.skip("this provider serves fine-tuned models directly")  # not a contract gap
        assert self.served_model, "a serving provider's contract test sets served_model"
        return harness.provider

    def test_deploy_is_idempotent_by_name_and_find_reconciles_it(self, harness: ContractHarness) -> None:
        provider = self._serving(harness)
        request = DeployRequest(name="tuneops-run-contract", model_id=self.served_model,
                                mode=provider.capabilities.serve_modes[0],  # type: ignore[arg-type]
                                hardware=self.serve_hardware)
        first = provider.deploy_model(request)
        assert isinstance(first, ProviderDeployment) and first.provider_deployment_id and first.endpoint
        assert first.name == request.name and first.mode == request.mode
        found = provider.find_deployment(request.name)
        assert found is not None and found.provider_deployment_id == first.provider_deployment_id
        assert provider.deploy_model(request).provider_deployment_id == first.provider_deployment_id
        assert provider.find_deployment("tuneops-run-other") is None
        got = provider.get_deployment(first.provider_deployment_id)
        assert isinstance(got.status, DeploymentStatus) and got.provider_deployment_id == first.provider_deployment_id
        provider.delete_deployment(first.provider_deployment_id)
        provider.delete_deployment(first.provider_deployment_id)  # already gone: not an error
        after = provider.find_deployment(request.name)
        assert after is None or after.status in (DeploymentStatus.DELETING, DeploymentStatus.GONE)

    def test_a_mode_it_cannot_serve_is_refused(self, harness: ContractHarness) -> None:
        provider = self._serving(harness)
        missing = [m for m in ("on_demand", "provisioned", "dedicated") if m not in provider.capabilities.serve_modes]
        if not missing:
            return  # serves in every mode
        with pytest.raises(UnsupportedOperation):
            provider.deploy_model(DeployRequest(name="tuneops-run-mode", model_id=self.served_model,
                                                mode=missing[0], hardware=self.serve_hardware))  # type: ignore[arg-type]


# -- FakeProvider ---------------------------------------------------------------------------------


@dataclass
class _FakeJob:
    job: ProviderJob
    script: list[str]


@dataclass
class FakeBackend:
    """The in-memory state behind FakeProvider: files, jobs and a script of statuses per job."""

    script: list[str] = field(default_factory=lambda: ["queued", "running", "succeeded"])
    files: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, _FakeJob] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, float | None]]] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Deployments by id, and the statuses a new one walks through on each get_deployment.
    deployments: dict[str, ProviderDeployment] = field(default_factory=dict)
    deploy_script: list[str] = field(default_factory=lambda: ["creating", "ready"])
    deploy_scripts: dict[str, list[str]] = field(default_factory=dict)
    hourly_microusd: int | None = 2_500_000  # what a provisioned or dedicated fake deployment costs
    # When True, a fine-tuned model answers only through a deployment (like Azure or Bedrock).
    serving_required: bool = False
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self, prefix: str) -> str:
        """A fresh id."""
        return f"{prefix}-{next(self._ids)}"


FAKE_STATUSES = {"queued": RunStatus.QUEUED, "running": RunStatus.RUNNING, "paused": RunStatus.PAUSED,
                 "succeeded": RunStatus.SUCCEEDED, "failed": RunStatus.FAILED,
                 "cancelled": RunStatus.CANCELLED}


class FakeProvider:
    """An in-memory provider: each ``get`` advances a job one step through a scripted status list."""

    name = "fake"
    capabilities = Capabilities(methods=frozenset({"sft", "dpo"}), can_pause=True, can_resume=True,
                                min_examples=1, models=("fake-base",),
                                serve_modes=("on_demand", "provisioned", "dedicated"))

    def __init__(self, config: ProviderConfig | None = None, backend: FakeBackend | None = None):
        self.backend = backend or (config.options.get("backend") if config else None) or FakeBackend()

    def _call(self, operation: str) -> None:
        b = self.backend
        b.calls[operation] = b.calls.get(operation, 0) + 1
        queue = b.failures.get(operation)
        if queue:
            status, retry_after = queue.pop(0)
            if status == 429:
                raise TransientProviderError("rate limited", provider=self.name, operation=operation,
                                             status=429, retry_after=retry_after)
            if status >= 500:
                cls = AmbiguousCreate if operation == "create" else TransientProviderError
                raise cls(f"HTTP {status}", provider=self.name, operation=operation, status=status)
            raise PermanentProviderError(f"HTTP {status}", provider=self.name, operation=operation,
                                         status=status)

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records as JSON lines."""
        import json

        for r in records:
            yield json.dumps(r, sort_keys=True).encode() + b"\n"

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """Keep the file in memory."""
        self._call("upload")
        fid = self.backend.next_id("file")
        with progress.open_upload(path, to=self.name) as fh:
            self.backend.files[fid] = fh.read()
        return Upload(self.name, sha256, fid, len(self.backend.files[fid]), upload_filename(sha256))

    def location(self) -> str:
        """The in-memory back end this adapter talks to."""
        return f"fake://{id(self.backend):x}"

    def verify_upload(self, upload: Upload) -> bool:
        """The file is still in memory with the same bytes (the fake keeps a checksum: the bytes)."""
        self._call("verify")
        data = self.backend.files.get(upload.provider_file_id)
        return data is not None and hashlib.sha256(data).hexdigest() == upload.sha256

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """Files holding these bytes, newest first."""
        self._call("verify")
        return [Upload(self.name, sha256, fid, len(data), upload_filename(sha256))
                for fid, data in reversed(self.backend.files.items())
                if len(data) == size and hashlib.sha256(data).hexdigest() == sha256]

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The request as a dict (the fake accepts multipliers only, like OpenAI)."""
        if request.hyperparameters.learning_rate is not None:
            raise UnsupportedOperation(f"{self.name} takes a learning-rate multiplier only")
        return {"model": request.base_model, "file": request.training.provider_file_id,
                "key": request.idempotency_key}

    def create(self, request: CreateRequest) -> ProviderJob:
        """Create a job that will walk through the backend's script."""
        self.create_body(request)
        with self.backend.lock:
            jid = self.backend.next_id("job")
            job = ProviderJob(jid, RunStatus.PENDING, "pending", idempotency_key=request.idempotency_key,
                              created_at=utcnow(), raw={"id": jid, "base": request.base_model})
            self.backend.jobs[jid] = _FakeJob(job, list(self.backend.script))
        self._call("create")  # a failure here happens after the job exists: an ambiguous create
        return job

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Jobs carrying the key."""
        self._call("find")
        return [j.job for j in self.backend.jobs.values() if j.job.idempotency_key == idempotency_key]

    def _set(self, jid: str, raw: str) -> ProviderJob:
        fj = self.backend.jobs[jid]
        status = FAKE_STATUSES.get(raw, RunStatus.UNKNOWN)
        model = f"fake:{fj.job.raw['base']}:{jid}" if status is RunStatus.SUCCEEDED else None
        fj.job = replace(fj.job, status=status, raw_status=raw, model_id=model,
                         trained_tokens=1000 if model else None)
        return fj.job

    def get(self, provider_job_id: str) -> ProviderJob:
        """Advance the job one scripted step and return it."""
        self._call("get")
        fj = self.backend.jobs.get(provider_job_id)
        if fj is None:
            raise PermanentProviderError(f"no job {provider_job_id}", provider=self.name, operation="get",
                                         status=404)
        if fj.script and fj.job.status not in (RunStatus.PAUSED, RunStatus.CANCELLED):
            return self._set(provider_job_id, fj.script.pop(0))
        return fj.job

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """All jobs, newest first, in pages."""
        jobs = [j.job for j in reversed(self.backend.jobs.values())]
        for i in range(0, len(jobs), limit):
            self._call("list")
            yield jobs[i:i + limit]

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Cancel unless terminal."""
        self._call("cancel")
        job = self.backend.jobs[provider_job_id].job
        return job if job.status.terminal else self._set(provider_job_id, "cancelled")

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Pause."""
        return self._set(provider_job_id, "paused")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Resume."""
        return self._set(provider_job_id, "running")

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """One event per status seen."""
        job = self.backend.jobs[provider_job_id].job
        return [ProviderEvent(f"{provider_job_id}-{job.raw_status}", utcnow(), "info", f"status {job.raw_status}")]

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """No metrics."""
        return []

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """No checkpoints."""
        return []

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """Echo the last user message (a fine-tuned model only through a ready deployment, if required)."""
        self._call("infer")
        if self.backend.serving_required and model.startswith("fake:"):
            raise PermanentProviderError(f"model {model} is not deployed; call it through a deployment",
                                         provider=self.name, operation="infer", status=404)
        if model.startswith("fakedep:"):
            dep = next((d for d in self.backend.deployments.values() if d.endpoint == model), None)
            if dep is None or dep.status is not DeploymentStatus.READY:
                raise PermanentProviderError(f"deployment {model} is not serving", provider=self.name,
                                             operation="infer", status=404)
        return Completion(str(messages[-1].get("content", "")), 1, 1)

    # -- serving ---------------------------------------------------------------------------------

    def needs_deployment_for(self, options: Mapping[str, Any], base_model: str) -> bool:
        """Whether fine-tuned models answer only through a deployment (the backend's setting)."""
        return self.backend.serving_required

    def deploy_model(self, request: DeployRequest) -> ProviderDeployment:
        """Create the named deployment, or return the live one with that name (no duplicate)."""
        if request.mode not in self.capabilities.serve_modes:
            raise UnsupportedOperation(f"{self.name} cannot serve in mode {request.mode!r}")
        with self.backend.lock:
            existing = self._by_name(request.name)
            if existing is None:
                did = self.backend.next_id("dep")
                hourly = 0 if request.mode == "on_demand" else self.backend.hourly_microusd
                existing = ProviderDeployment(did, request.name, DeploymentStatus.CREATING, "creating",
                                              f"fakedep:{request.name}", request.mode, hourly,
                                              raw={"id": did, "model": request.model_id})
                self.backend.deployments[did] = existing
                self.backend.deploy_scripts[did] = list(self.backend.deploy_script)
        self._call("deploy")  # a failure here happens after the deployment exists: ambiguous
        return existing

    def _by_name(self, name: str) -> ProviderDeployment | None:
        return next((d for d in self.backend.deployments.values()
                     if d.name == name and d.status is not DeploymentStatus.GONE), None)

    def find_deployment(self, name: str) -> ProviderDeployment | None:
        """The live deployment with this name."""
        self._call("find_deployment")
        return self._by_name(name)

    def get_deployment(self, provider_deployment_id: str) -> ProviderDeployment:
        """Advance the deployment one scripted step and return it."""
        self._call("get_deployment")
        dep = self.backend.deployments.get(provider_deployment_id)
        if dep is None:
            raise PermanentProviderError(f"no deployment {provider_deployment_id}", provider=self.name,
                                         operation="get_deployment", status=404)
        script = self.backend.deploy_scripts.get(provider_deployment_id)
        if script and dep.status is not DeploymentStatus.GONE:
            raw = script.pop(0)
            dep = replace(dep, status=DeploymentStatus(raw), raw_status=raw,
                          error_message="fake capacity error" if raw == "failed" else None)
            self.backend.deployments[provider_deployment_id] = dep
        return dep

    def delete_deployment(self, provider_deployment_id: str) -> None:
        """Delete; already gone is fine."""
        self._call("delete_deployment")
        dep = self.backend.deployments.get(provider_deployment_id)
        if dep is not None:
            self.backend.deployments[provider_deployment_id] = replace(dep, status=DeploymentStatus.GONE,
                                                                       raw_status="gone")

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class FakeHarness:
    """ContractHarness over FakeProvider."""

    provider: FakeProvider
    raw_statuses: Mapping[str, RunStatus] = field(default_factory=lambda: dict(FAKE_STATUSES))

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Pin the job's status."""
        self.provider.backend.jobs[provider_job_id].script.clear()
        self.provider._set(provider_job_id, raw_status)

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Queue a failure."""
        self.provider.backend.failures.setdefault(operation, []).append((http_status, retry_after))

    def jobs_created(self) -> int:
        """Jobs in the backend."""
        return len(self.provider.backend.jobs)
