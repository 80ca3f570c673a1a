"""OpenAIProvider: OpenAI fine-tuning through the official SDK, with SDK retries off and an injectable
HTTP client. Azure OpenAI and the local sandbox are subclasses that change only how the client is
built and a few limits."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from tuneops import progress
from tuneops.basemodels import TunableModel
from tuneops.clock import from_unix
from tuneops.errors import PermanentProviderError, ProviderError, UnsupportedOperation
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
    same_file,
    upload_filename,
)
from tuneops.providers.openai import body as bodies
from tuneops.providers.openai.capabilities import OPENAI_CAPABILITIES
from tuneops.providers.openai.errors import call
from tuneops.providers.openai.models import OPENAI_MODELS
from tuneops.providers.openai.options import OPENAI_CONNECTION, OpenAIOptions
from tuneops.providers.openai.results import (
    ModelInfo,
    decode_result_file,
    metrics_from_events,
    model_info,
    parse_result_csv,
)
from tuneops.providers.openai.status import STATUS_TABLE
from tuneops.providers.openai.uploads import MAX_PART_BYTES, ChunkedUpload

KEY_FIELD = bodies.KEY_FIELD  # kept importable from here: the metadata key that carries the run key

DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Files API takes up to 512 MB per file; above the threshold the Uploads API is used (parts <= 64 MB).
DEFAULT_CHUNKED_ABOVE_BYTES = 256 * 1024 * 1024
DEFAULT_UPLOAD_WORKERS = 4
PAGE = 100



class OpenAIProvider:
    """OpenAI fine-tuning: files and chunked uploads, SFT and DPO jobs, pause/resume, events,
    checkpoints, result-file metrics, reconciliation by metadata, chat for evals."""

    name: ClassVar[str] = "openai"
    base_models: ClassVar[tuple[TunableModel, ...]] = OPENAI_MODELS
    options_schema: ClassVar[type[ProviderOptions]] = OpenAIOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = OPENAI_CONNECTION
    capabilities: ClassVar[Capabilities] = OPENAI_CAPABILITIES
    status_table: ClassVar[Mapping[str, RunStatus]] = STATUS_TABLE
    max_suffix: int = 64  # Azure's dated API lowers it per instance

    def __init__(self, config: ProviderConfig | None = None):
        config = config or ProviderConfig()
        self.config = config
        self.options = dict(config.options)
        self._secrets: list[str] = []  # scrubbed from every error message
        self._owns_http = config.http_client is None
        self.client = self._make_client(config)

    # -- construction hooks (Azure and the sandbox override these) -------------------------------

    def _make_client(self, config: ProviderConfig) -> Any:
        import openai

        api_key = config.credential(self.name, "OPENAI_API_KEY",
                                    hint="Create a key at platform.openai.com (API keys).")
        self._secrets.append(api_key)
        self.base_url = (config.base_url or self.options.get("base_url")
                         or config.env.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL)
        # max_retries=0: the SDK would retry POSTs (including create) on its own; tuneops retries
        # in one place and never retries a create blindly.
        return openai.OpenAI(api_key=api_key, base_url=self.base_url, max_retries=0,
                             http_client=self._http(config),
                             organization=config.env.get("OPENAI_ORG_ID") or None,
                             project=config.env.get("OPENAI_PROJECT_ID") or None)

    def _http(self, config: ProviderConfig) -> Any:
        import httpx

        # openai 3.x is built on httpx2 but accepts a plain httpx.Client, which respx can intercept.
        return config.http_client or httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0))

    def _model_name(self, base_model: str) -> str:
        return base_model

    def _after_upload(self, file: Any) -> Any:
        return file

    def _call(self, operation: str, fn: Callable[[], Any], *, create: bool = False) -> Any:
        return call(self.name, operation, fn, create=create, secrets=self._secrets)

    def _int_option(self, name: str, default: int) -> int:
        value = self.options.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UnsupportedOperation(f"options.{self.name}.{name} must be a positive integer")
        return value

    # -- data ------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records in OpenAI's chat / preference JSONL format."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """Upload a prepared JSONL file: Files API when small, resumable Uploads API above the threshold."""
        size = path.stat().st_size
        filename = upload_filename(sha256)
        if size > self._int_option("upload_chunked_above_bytes", DEFAULT_CHUNKED_ABOVE_BYTES):
            chunked = ChunkedUpload(
                self.client, self._call, provider=self.name, account=str(self.client.base_url),
                part_bytes=self._int_option("upload_part_bytes", MAX_PART_BYTES),
                workers=self._int_option("upload_workers", DEFAULT_UPLOAD_WORKERS),
                mime_type=str(self.options.get("upload_mime_type", "text/jsonl")))
            obj = chunked.upload(path, sha256=sha256, purpose=purpose, filename=filename)
        else:
            with progress.open_upload(path, to=self.name) as fh:
                obj = self._call("upload", lambda: self.client.files.create(
                    file=(filename, fh, "application/jsonl"), purpose=purpose))
        obj = self._after_upload(obj)
        return Upload(self.name, sha256, obj.id, obj.bytes, obj.filename)

    def location(self) -> str:
        """The API base URL, with the organization and project where set (files belong to them)."""
        parts = [str(self.client.base_url).rstrip("/")]
        parts += [f"{k}={v}" for k, v in (("org", getattr(self.client, "organization", None)),
                                          ("project", getattr(self.client, "project", None))) if v]
        return " ".join(parts)

    def verify_upload(self, upload: Upload) -> bool:
        """``GET /files/{id}``: the file exists, is not deleted or in error, same size and name."""
        try:
            obj = self._call("verify", lambda: self.client.files.retrieve(upload.provider_file_id))
        except PermanentProviderError as exc:
            if exc.status == 404:
                return False
            raise
        if getattr(obj, "status", None) in ("deleted", "error"):
            return False
        return same_file(upload, obj.bytes, obj.filename)

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """Fine-tuning files named after these bytes' hash, with their size, newest first."""
        name = upload_filename(sha256)
        page = self._call("verify", lambda: self.client.files.list(purpose="fine-tune"))
        found = [f for f in page.data if f.filename == name and int(f.bytes or -1) == size
                 and getattr(f, "status", None) not in ("deleted", "error")]
        found.sort(key=lambda f: f.created_at or 0, reverse=True)
        return [Upload(self.name, sha256, f.id, f.bytes, f.filename) for f in found]

    # -- jobs ------------------------------------------------------------------------------------

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The create request body for ``request``; pure (golden tests compare it)."""
        return bodies.create_body(self.name, request, model=self._model_name(request.base_model),
                                  methods=self.capabilities.methods, max_suffix=self.max_suffix)

    def create(self, request: CreateRequest) -> ProviderJob:
        """Create the job once (no retries here), tagged with the idempotency key in metadata."""
        body = self.create_body(request)
        job = self._call("create", lambda: self.client.fine_tuning.jobs.create(**body), create=True)
        return self._job(job)

    def _pages(self, operation: str, fetch: Callable[[str | None], Any]) -> Iterator[list[Any]]:
        after: str | None = None
        while True:
            page = self._call(operation, lambda a=after: fetch(a))
            yield list(page.data)
            if not page.has_more or not page.data:
                return
            after = page.data[-1].id

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Jobs whose metadata carries this key (server-side filter, checked again here in case a
        deployment of the API ignores the filter)."""
        found = []
        for page in self._pages("find", lambda a: self.client.fine_tuning.jobs.list(
                limit=PAGE, metadata={KEY_FIELD: idempotency_key}, **({"after": a} if a else {}))):
            found += [self._job(j) for j in page if (j.metadata or {}).get(KEY_FIELD) == idempotency_key]
        return found

    def get(self, provider_job_id: str) -> ProviderJob:
        """The job's current state."""
        return self._job(self._call("get", lambda: self.client.fine_tuning.jobs.retrieve(provider_job_id)))

    def list_jobs(self, *, limit: int = PAGE) -> Iterator[list[ProviderJob]]:
        """Jobs newest first, one list per page."""
        for page in self._pages("list", lambda a: self.client.fine_tuning.jobs.list(
                limit=limit, **({"after": a} if a else {}))):
            yield [self._job(j) for j in page]

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Cancel the job; a terminal job is returned unchanged."""
        current = self.get(provider_job_id)
        if current.status.terminal:
            return current
        try:
            return self._job(self._call("cancel", lambda: self.client.fine_tuning.jobs.cancel(provider_job_id)))
        except PermanentProviderError:
            # It may have finished between the two calls: then cancelling is a no-op, not an error.
            after = self.get(provider_job_id)
            if after.status.terminal:
                return after
            raise

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Pause a running job."""
        self._controls("pause", self.capabilities.can_pause)
        return self._job(self._call("pause", lambda: self.client.fine_tuning.jobs.pause(provider_job_id)))

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Resume a paused job."""
        self._controls("resume", self.capabilities.can_resume)
        return self._job(self._call("resume", lambda: self.client.fine_tuning.jobs.resume(provider_job_id)))

    def _controls(self, action: str, allowed: bool) -> None:
        if not allowed:
            raise UnsupportedOperation(f"{self.name} cannot {action} fine-tuning jobs")

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """All events, oldest first."""
        out: list[ProviderEvent] = []
        for page in self._pages("events", lambda a: self.client.fine_tuning.jobs.list_events(
                provider_job_id, limit=PAGE, **({"after": a} if a else {}))):
            for ev in page:
                data = getattr(ev, "data", None)
                out.append(ProviderEvent(ev.id, from_unix(ev.created_at), ev.level, ev.message,
                                         dict(data) if isinstance(data, Mapping) else {}))
        # The API lists newest first, in the order things happened; times are whole seconds and ids are
        # random, so only a stable sort on the time keeps a second's events (step 9, then step 10) in order.
        out.reverse()
        out.sort(key=lambda e: e.created_at)
        return out

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """Checkpoints by step."""
        cps = []
        for page in self._pages("checkpoints", lambda a: self.client.fine_tuning.jobs.checkpoints.list(
                provider_job_id, limit=PAGE, **({"after": a} if a else {}))):
            cps += [Checkpoint(c.id, c.step_number, c.fine_tuned_model_checkpoint,
                               c.metrics.model_dump(exclude_none=True) if c.metrics else {}) for c in page]
        return sorted(cps, key=lambda c: c.step)

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Per-step metrics from the result file once the job has one, else from metrics events."""
        job = self._call("get", lambda: self.client.fine_tuning.jobs.retrieve(provider_job_id))
        if job.result_files:
            content = self._call("result", lambda: self.client.files.content(job.result_files[0]))
            return parse_result_csv(decode_result_file(content.read()))
        return metrics_from_events(e.data for e in self.events(provider_job_id))

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One chat completion."""
        resp = self._call("infer", lambda: self.client.chat.completions.create(
            model=model, messages=list(messages), **params))
        text = resp.choices[0].message.content or ""
        usage = resp.usage
        return Completion(text, usage.prompt_tokens if usage else 0, usage.completion_tokens if usage else 0)

    # -- account ---------------------------------------------------------------------------------

    def list_models(self) -> list[ModelInfo]:
        """Every model the account can use, with its announced shutdown date (or None)."""
        page = self._call("models", lambda: self.client.models.list())
        return [model_info(m) for m in page.data]

    def check(self) -> list[tuple[bool, str]]:
        """Credentials present and one cheap authenticated call: [(ok, message), ...]."""
        results = [(True, f"credential set ({self._credential_source()})")]
        try:
            models = self.list_models()
        except ProviderError as exc:
            results.append((False, f"authenticated call to {self.client.base_url} failed: {exc}"))
            return results
        results.append((True, f"authenticated to {self.client.base_url}: {len(models)} models visible"))
        return results

    def _credential_source(self) -> str:
        return "OPENAI_API_KEY"

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_http:
            self.client.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _job(self, job: Any) -> ProviderJob:
        err = job.error
        return ProviderJob(
            provider_job_id=job.id,
            status=map_status(self.status_table, job.status),
            raw_status=str(job.status),
            model_id=job.fine_tuned_model,
            idempotency_key=(job.metadata or {}).get(KEY_FIELD),
            trained_tokens=job.trained_tokens,
            error_code=getattr(err, "code", None) if err else None,
            error_message=getattr(err, "message", None) if err else None,
            created_at=from_unix(job.created_at),
            finished_at=from_unix(job.finished_at),
            raw=job.model_dump(mode="json"),
        )
