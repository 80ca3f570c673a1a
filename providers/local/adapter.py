"""LocalProvider: LoRA / QLoRA fine-tuning on this machine, behind the same contract as the hosted APIs.

A job is a job directory under the project (see ``jobs.py``) and a detached training process
(``train.py``). "Uploading" copies the prepared file into the project's local store: nothing leaves
the machine. ``create`` is idempotent by the run's key: the directory name carries a token of the
key and appears in one rename, so a second create with the same key finds the same directory and
never starts a second process. This module imports no torch: only training and ``infer`` do.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from tuneops import progress
from tuneops.errors import AmbiguousCreate, PermanentProviderError, TransientProviderError, UnsupportedOperation
from tuneops.options import ProviderOptions
from tuneops.provider import (
    Capabilities,
    Checkpoint,
    Completion,
    CreateRequest,
    MetricPoint,
    ProviderConfig,
    ProviderEvent,
    ProviderJob,
    RunStatus,
    Upload,
    map_status,
)
from tuneops.providers.local import loading, settings
from tuneops.providers.local.capabilities import LOCAL_CAPABILITIES
from tuneops.providers.local.jobs import JobDir, read_jsonl, write_json
from tuneops.providers.local.options import CONNECTION, LocalOptions
from tuneops.providers.local.status import CANCELLING, LIVE, QUEUED, STATUS_TABLE, SUCCEEDED
from tuneops.runs import crash

MODEL_PREFIX = "local:"
# OS errors worth another try (a busy lock, an interrupted call, a fork refused for lack of processes).
_TRANSIENT = frozenset({errno.EAGAIN, errno.EBUSY, errno.EINTR, errno.ETIMEDOUT, errno.ENOLCK, errno.EIO,
                        errno.ENOMEM})
Launcher = Callable[[JobDir], Sequence[str]]


def training_command(job: JobDir) -> list[str]:
    """The command that trains one job (this Python, so the job sees the same installation)."""
    return [sys.executable, "-m", "tuneops.providers.local.train", str(job.path)]


class LocalProvider:
    """LoRA/QLoRA on your own hardware: job directories, detached training processes, local serving."""

    name: ClassVar[str] = "local"
    options_schema: ClassVar[type[ProviderOptions]] = LocalOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = CONNECTION
    capabilities: ClassVar[Capabilities] = LOCAL_CAPABILITIES

    def __init__(self, config: ProviderConfig | None = None, *, launcher: Launcher = training_command):
        config = config or ProviderConfig()
        self.options = settings.options(dict(config.options))
        self.env = dict(config.env)
        from tuneops.home import home

        root = self.options["jobs_dir"] or (home() / "local")
        self.root = Path(root).expanduser().resolve()
        self.launcher = launcher
        # Failures to inject, by operation, as OS errors the provider's own translation sees (tests only).
        self.faults: dict[str, list[OSError]] = {}

    # -- data ----------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records as OpenAI-style chat JSONL (the training process applies the chat template)."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """Copy the prepared file into the project's local file store (content-addressed)."""
        with self._translate("upload"):
            files = self.root / "files"
            files.mkdir(parents=True, exist_ok=True)
            target = files / f"{sha256}.jsonl"
            if not target.is_file():
                tmp = files / f".{sha256}.{os.getpid()}.tmp"
                with progress.open_upload(path, to=self.name) as src, tmp.open("wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(tmp, target)
            return Upload(self.name, sha256, f"{sha256}.jsonl", target.stat().st_size, path.name)

    def location(self) -> str:
        """Where uploads and jobs live: this machine's job root (uploads elsewhere are other files)."""
        return f"file://{self.root}"

    def verify_upload(self, upload: Upload) -> bool:
        """The stored file is there with the same bytes (a local checksum is cheap, so it is checked)."""
        target = self.root / "files" / upload.provider_file_id
        if not target.is_file() or target.stat().st_size != upload.bytes:
            return False
        with target.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest() == upload.sha256

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """The content-addressed copy of these bytes, if an earlier upload left one."""
        target = self.root / "files" / f"{sha256}.jsonl"
        if not target.is_file() or target.stat().st_size != size:
            return []
        found = Upload(self.name, sha256, target.name, size, target.name)
        return [found] if self.verify_upload(found) else []

    # -- create ----------------------------------------------------------------------------------------

    def job_name(self, request: CreateRequest) -> str:
        """``<job>-<token of the key>``: readable, and the same for every create of one run."""
        slug = re.sub(r"[^a-z0-9.-]+", "-", request.job_name.lower()).strip("-.")[:40] or "job"
        return f"{slug}-{hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:12]}"

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The job.json this request would write (no process started); refuses what cannot be trained."""
        loading.require_packages()
        opts = settings.options(dict(request.options))
        hp = settings.training(request)
        source = loading.base_source(request.base_model, opts["base_model_dir"])
        loading.check_base(source, "options.local.base_model_dir" if opts["base_model_dir"] else "model.base")
        if opts["method"] == "qlora":
            loading.require_cuda()
        files = self.root / "files"
        return {
            "name": self.job_name(request), "job_name": request.job_name,
            "idempotency_key": request.idempotency_key, "method": request.method,
            "base_model": request.base_model, "base_source": source,
            "training_file": str(files / request.training.provider_file_id),
            "validation_file": str(files / request.validation.provider_file_id) if request.validation else None,
            "hyperparameters": hp, "options": {**opts, "jobs_dir": str(self.root)},
        }

    def create(self, request: CreateRequest) -> ProviderJob:
        """Write the job directory once (same key, same directory) and start its training process."""
        body = self.create_body(request)
        with self._translate("create"):
            jobs = self.root / "jobs"
            jobs.mkdir(parents=True, exist_ok=True)
            job = JobDir(jobs / body["name"])
            if not job.exists():
                self._write_job(job, body)
        crash.point("local-job-written")  # tests: killed between the job directory and its process
        if job.config().get("idempotency_key") != request.idempotency_key:
            raise PermanentProviderError(f"job directory {job.path} belongs to another run; move it away",
                                         provider=self.name, operation="create", code="name_taken")
        try:  # the job exists from here on: a failure to start it is ambiguous, and get() starts it later
            with self._translate("launch"):
                self._start(job)
        except TransientProviderError as exc:
            raise AmbiguousCreate(f"job {job.name} was written but its training process did not start ({exc})",
                                  provider=self.name, operation="create", code=exc.code) from None
        return self._job(job)

    def _write_job(self, job: JobDir, body: Mapping[str, Any]) -> None:
        """Write the directory under a temporary name, then rename it into place (all or nothing)."""
        from tuneops.clock import utcnow

        tmp = job.path.with_name(f".{job.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        now = utcnow().isoformat()
        write_json(tmp / "job.json", {**body, "created_at": now})
        write_json(tmp / "status.json", {"status": QUEUED, "updated_at": now})
        try:
            os.rename(tmp, job.path)
        except OSError as exc:  # another process renamed its directory first: use that one
            shutil.rmtree(tmp, ignore_errors=True)
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise

    def _start(self, job: JobDir) -> None:
        """Start the job's training process unless it runs or ran already."""
        env = loading.private_env(bool(job.config().get("options", {}).get("allow_hub_download")), self.env)
        env["PYTHONUNBUFFERED"] = "1"
        job.launch(self.launcher(job), env)

    # -- reads ---------------------------------------------------------------------------------------

    def _dir(self, provider_job_id: str, operation: str) -> JobDir:
        job = JobDir(self.root / "jobs" / provider_job_id)
        if "/" in provider_job_id or not job.exists():
            raise PermanentProviderError(f"no job directory {job.path}", provider=self.name,
                                         operation=operation, status=404, code="not_found")
        return job

    def _all(self) -> list[JobDir]:
        jobs = self.root / "jobs"
        found = [JobDir(p) for p in jobs.iterdir() if not p.name.startswith(".")] if jobs.is_dir() else []
        return sorted((j for j in found if j.exists()), key=lambda j: j.config().get("created_at", ""), reverse=True)

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Every job directory written for this key."""
        with self._translate("find"):
            return [self._job(j) for j in self._all() if j.config().get("idempotency_key") == idempotency_key]

    def get(self, provider_job_id: str) -> ProviderJob:
        """The job's state; a job whose create was cut short before its process started is started now."""
        with self._translate("get"):
            job = self._dir(provider_job_id, "get")
            if job.status().get("status") == QUEUED and job.launched() is None:
                self._start(job)
            return self._job(job)

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """Job directories, newest first, in pages."""
        with self._translate("list"):
            jobs = self._all()
        for i in range(0, len(jobs), limit):
            yield [self._job(j) for j in jobs[i:i + limit]]

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Stop the training process (it ends "cancelled" at its next step); a no-op on a finished job."""
        with self._translate("cancel"):
            job = self._dir(provider_job_id, "cancel")
            job.cancel()
            return self._job(job)

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Local jobs cannot pause."""
        raise UnsupportedOperation("local cannot pause a training job (cancel it, and submit again)")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Local jobs cannot resume."""
        raise UnsupportedOperation("local cannot resume a training job")

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """Lifecycle events and one metrics event per step, oldest first."""
        job = self._dir(provider_job_id, "events")
        out = [ProviderEvent(f"{job.name}:event:{i}", _time(e.get("at")), str(e.get("level") or "info"),
                             str(e.get("message") or ""), {k: v for k, v in e.items() if k not in ("at", "message")})
               for i, e in enumerate(read_jsonl(job.events_file))]
        for m in read_jsonl(job.metrics_file):
            data = {k: m[k] for k in ("step", "train_loss", "valid_loss") if k in m}
            text = ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in data.items() if k != "step")
            out.append(ProviderEvent(f"{job.name}:step:{m.get('step')}", _time(m.get("at")), "info",
                                     f"step {m.get('step')}: {text}", data))
        return sorted(out, key=lambda e: e.created_at)

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Per-step training loss, and validation loss at the steps where it was measured."""
        job = self._dir(provider_job_id, "metrics")
        points = {int(m["step"]): MetricPoint(int(m["step"]), _f(m.get("train_loss")), _f(m.get("valid_loss")))
                  for m in read_jsonl(job.metrics_file) if isinstance(m.get("step"), int)}
        return [points[s] for s in sorted(points)]

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """Only the final adapter is kept, so there are no intermediate checkpoints."""
        self._dir(provider_job_id, "checkpoints")
        return []

    # -- serving -----------------------------------------------------------------------------------

    def resolve_model(self, model: str) -> tuple[str, str | None, Mapping[str, Any]]:
        """(base model source, adapter directory or None, job options) for a model id or a base model."""
        if not model.startswith(MODEL_PREFIX):
            source = loading.base_source(model, self.options["base_model_dir"])
            loading.check_base(source, "options.local.base_model_dir")
            return source, None, self.options
        _, name, digest = [*model.split(":"), "", ""][:3]
        job = self._dir(name, "infer")
        status = job.status()
        adapter = status.get("adapter") or {}
        if status.get("status") != SUCCEEDED or adapter.get("sha256") != digest:
            raise PermanentProviderError(f"model {model} is not the adapter job {name} produced "
                                         f"(status {status.get('status')}, adapter sha256 {adapter.get('sha256')})",
                                         provider=self.name, operation="infer", status=404, code="not_found")
        from tuneops.providers.local.jobs import file_hashes, manifest_sha256

        if manifest_sha256(file_hashes(job.adapter_dir)) != digest:
            raise PermanentProviderError(f"the adapter files in {job.adapter_dir} changed since training "
                                         f"(model {model}); they no longer match their recorded sha256",
                                         provider=self.name, operation="infer", code="adapter_changed")
        config = job.config()
        return config["base_source"], str(job.adapter_dir), config.get("options", {})

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One chat answer from a base model or base + adapter (loaded once per process); greedy by default."""
        loading.require_packages()
        if params.get("tools"):
            raise UnsupportedOperation("local serving does not call tools; remove tools from the eval set")
        base, adapter, opts = self.resolve_model(model)
        from tuneops.providers.local import serving

        target = serving.loaded(base, adapter, threads=int(opts.get("threads") or 2),
                                allow_hub=bool(opts.get("allow_hub_download")))
        return serving.answer(target, messages, max_tokens=int(params.get("max_tokens") or 256),
                              temperature=float(params.get("temperature") or 0.0))

    def export_merged(self, model: str, out_dir: Path) -> list[Path]:
        """Write base + adapter merged (safetensors and tokenizer) to ``out_dir``; returns the files."""
        loading.require_packages()
        base, adapter, _ = self.resolve_model(model)
        if adapter is None:
            raise UnsupportedOperation(f"{model} is a base model; export takes a fine-tuned local model "
                                       "(local:<job>:<sha256>)")
        from tuneops.providers.local import serving

        return serving.export_merged(base, adapter, out_dir)

    def check(self) -> list[tuple[bool, str]]:
        """Whether the `local` extra is installed and the base model directory (if set) is a model."""
        missing = loading.missing_packages()
        packages = (f"missing {', '.join(missing)}; {loading.INSTALL}" if missing
                    else f"{', '.join(loading.REQUIRED)} installed")
        checks = [(not missing, f"packages: {packages}")]
        if self.options["base_model_dir"]:
            source = loading.base_source("", self.options["base_model_dir"])
            checks.append(((Path(source) / "config.json").is_file(), f"base_model_dir: {source}"))
        return checks

    def close(self) -> None:
        """Nothing to release (loaded models stay for the life of the process)."""

    # -- helpers -------------------------------------------------------------------------------------

    def _translate(self, operation: str) -> contextlib.AbstractContextManager[None]:
        return _translated(self, operation)

    def _job(self, job: JobDir) -> ProviderJob:
        status = job.settle()
        raw_status = str(status.get("status") or "")
        if raw_status in LIVE and raw_status != CANCELLING and job.cancel_file.exists():
            raw_status = CANCELLING
        state = map_status(STATUS_TABLE, raw_status or None)
        config = job.config()
        adapter = status.get("adapter") or {}
        model_id = (f"{MODEL_PREFIX}{job.name}:{adapter['sha256']}"
                    if state is RunStatus.SUCCEEDED and adapter.get("sha256") else None)
        raw = {"name": job.name, "dir": str(job.path), "base_model": config.get("base_model"),
               "base_source": config.get("base_source"), "hyperparameters": config.get("hyperparameters"),
               "lora": {k: config.get("options", {}).get(k) for k in ("method", "lora_r", "lora_alpha",
                                                                      "lora_dropout", "target_modules")},
               **status, "status": raw_status}
        return ProviderJob(
            provider_job_id=job.name, status=state, raw_status=raw_status, model_id=model_id,
            idempotency_key=config.get("idempotency_key"), trained_tokens=status.get("trained_tokens"),
            error_code=status.get("error_code") if state is RunStatus.FAILED else None,
            error_message=status.get("error") if state is RunStatus.FAILED else None,
            created_at=_time(config.get("created_at")), finished_at=_time(status.get("finished_at"), None),
            cost_microusd=0 if state.terminal else None,  # your own hardware: no provider bill
            raw=raw,
        )


@contextlib.contextmanager
def _translated(provider: LocalProvider, operation: str) -> Iterator[None]:
    """Turn OS errors of one operation into the contract's errors (injected faults are raised inside it)."""
    try:
        queue = provider.faults.get(operation)
        if queue:
            raise queue.pop(0)
        yield
    except OSError as exc:
        args: dict[str, Any] = {"provider": "local", "operation": operation,
                                "code": errno.errorcode.get(exc.errno or 0)}
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in _TRANSIENT:
            raise TransientProviderError(f"{exc.strerror or exc}{where}; will try again", **args,
                                         retry_after=getattr(exc, "retry_after", 1.0)) from None
        raise PermanentProviderError(f"{exc.strerror or exc}{where}", **args) from None


def _time(value: Any, default: Any = ...) -> Any:
    """An ISO timestamp as a naive UTC datetime (``default`` when missing; the epoch if no default)."""
    if value:
        try:
            return datetime.fromisoformat(str(value))
        except ValueError:
            pass
    return datetime(1970, 1, 1) if default is ... else default


def _f(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
