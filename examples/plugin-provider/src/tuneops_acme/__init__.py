"""A tuneops provider for the (fictional) Acme Tune fine-tuning API: an example plugin.

The API it speaks, in full (JSON over HTTPS, bearer auth with ``ACME_API_KEY``):

- ``POST /files`` (multipart ``file``) -> ``{"id", "bytes", "filename"}``; ``GET /files/{id}`` -> that
  record (404 once deleted); ``GET /files`` -> ``{"data": [record, ...]}``
- ``POST /jobs`` ``{"base_model", "training_file", "validation_file", "epochs", "learning_rate_multiplier",
  "client_token"}`` -> a job; Acme stores ``client_token`` and echoes it back, which is what makes a
  create whose answer was lost findable again (``find``)
- ``GET /jobs?client_token=T`` / ``GET /jobs?limit=N`` -> ``{"data": [job, ...]}`` newest first
- ``GET /jobs/{id}``, ``POST /jobs/{id}/cancel``, ``GET /jobs/{id}/events`` -> ``{"data": [event, ...]}``
- ``POST /chat/completions`` (OpenAI-compatible) for evals

A job is ``{"id", "status", "client_token", "fine_tuned_model", "trained_tokens", "created_at", "error"}``
with ``status`` one of ``queued, validating, running, succeeded, failed, cancelled``.

Everything tuneops needs from a plugin is here: a class with ``name`` and ``capabilities``, built from a
``ProviderConfig`` (credentials checked before any call), errors translated into tuneops's tree, unknown
statuses mapped to ``unknown``, and the entry point in pyproject.toml.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tuneops.errors import UnsupportedOperation
from tuneops.http import UPLOAD_TIMEOUT, JSONClient, chat_completion, check_call, find_files, verify_file
from tuneops.progress import open_upload
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
    upload_filename,
)

__all__ = ["STATUSES", "AcmeProvider"]

DEFAULT_BASE_URL = "https://api.acme-tune.example/v1"

# Every status Acme documents; anything else maps to RunStatus.UNKNOWN (never a crash).
STATUSES: dict[str, RunStatus] = {
    "queued": RunStatus.QUEUED, "validating": RunStatus.VALIDATING, "running": RunStatus.RUNNING,
    "succeeded": RunStatus.SUCCEEDED, "failed": RunStatus.FAILED, "cancelled": RunStatus.CANCELLED,
}


class AcmeProvider:
    """Acme Tune: supervised fine-tuning on uploaded files, cancel supported, no pause."""

    name = "acme"
    capabilities = Capabilities(
        methods=frozenset({"sft"}), staging="file_id", data_format="openai_chat", can_cancel=True,
        can_pause=False, can_resume=False, min_examples=10, learning_rate="multiplier",
        credentials=("ACME_API_KEY",), models=("acme-small", "acme-large"),
        notes="example plugin (examples/plugin-provider)",
    )

    def __init__(self, config: ProviderConfig | None = None):
        config = config or ProviderConfig()
        # Before any call: a missing key is MissingCredential, which tuneops turns into a clear message.
        key = config.credential(self.name, "ACME_API_KEY")
        base_url = config.base_url or str(config.options.get("base_url") or DEFAULT_BASE_URL)
        self.api = JSONClient(self.name, base_url, key, http_client=config.http_client)

    # -- data ----------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records as OpenAI-style chat JSONL (tuneops's converter)."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """``POST /files``."""
        with open_upload(path, to=self.name) as fh:  # users see a bar of the bytes sent
            obj = self.api.post("files", operation="upload", timeout=UPLOAD_TIMEOUT,
                                files={"file": (upload_filename(sha256), fh, "application/jsonl")})
        return Upload(self.name, sha256, str(obj["id"]), int(obj.get("bytes") or path.stat().st_size),
                      str(obj.get("filename") or path.name))

    def location(self) -> str:
        """Where uploads live: the API base URL (files belong to the key's account there)."""
        return self.api.base_url

    def verify_upload(self, upload: Upload) -> bool:
        """``GET /files/{id}``: before reusing an upload, the file is still there with its size and name."""
        return verify_file(self.api, upload, f"files/{upload.provider_file_id}")

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """Files left by an upload whose answer was lost: named after the bytes' hash, with their size."""
        return find_files(self.api, sha256, size, (upload_filename(sha256),))

    # -- jobs ----------------------------------------------------------------------------------------

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The ``POST /jobs`` body; refuses what Acme cannot express before anything is sent."""
        if request.method != "sft":
            raise UnsupportedOperation(f"{self.name} supports sft only, not {request.method}")
        hp = request.hyperparameters
        if hp.learning_rate is not None:
            raise UnsupportedOperation(f"{self.name} takes a learning-rate multiplier, not an absolute "
                                       "learning rate: set hyperparameters.learning_rate_multiplier")
        body: dict[str, Any] = {"base_model": request.base_model, "training_file": request.training.provider_file_id,
                                "client_token": request.idempotency_key}
        if request.validation is not None:
            body["validation_file"] = request.validation.provider_file_id
        if hp.epochs is not None:
            body["epochs"] = hp.epochs
        if hp.learning_rate_multiplier is not None:
            body["learning_rate_multiplier"] = hp.learning_rate_multiplier
        return body

    def create(self, request: CreateRequest) -> ProviderJob:
        """``POST /jobs`` once (``create=True``: a 5xx or a lost answer is AmbiguousCreate, settled by find)."""
        return self._job(self.api.post("jobs", operation="create", create=True, json=self.create_body(request)))

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Jobs carrying this client token."""
        data = self.api.get("jobs", operation="find", params={"client_token": idempotency_key})
        return [self._job(j) for j in data.get("data", []) if j.get("client_token") == idempotency_key]

    def get(self, provider_job_id: str) -> ProviderJob:
        """``GET /jobs/{id}``."""
        return self._job(self.api.get(f"jobs/{provider_job_id}", operation="get"))

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """Recent jobs, one page (Acme returns the newest ``limit``)."""
        yield [self._job(j) for j in self.api.get("jobs", operation="list", params={"limit": limit}).get("data", [])]

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """``POST /jobs/{id}/cancel``; a terminal job is returned as it is."""
        job = self.get(provider_job_id)
        if job.status.terminal:
            return job
        return self._job(self.api.post(f"jobs/{provider_job_id}/cancel", operation="cancel"))

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Acme cannot pause."""
        raise UnsupportedOperation(f"{self.name} cannot pause a job; cancel it instead")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Acme cannot resume."""
        raise UnsupportedOperation(f"{self.name} cannot resume a job")

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """``GET /jobs/{id}/events``, oldest first."""
        data = self.api.get(f"jobs/{provider_job_id}/events", operation="events")
        return [ProviderEvent(str(e["id"]), _time(e.get("created_at")), str(e.get("level") or "info"),
                              str(e.get("message") or "")) for e in data.get("data", [])]

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Acme reports no per-step metrics."""
        return []

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """Acme keeps no checkpoints."""
        return []

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """``POST /chat/completions``."""
        text, tokens_in, tokens_out, _ = chat_completion(self.api, "chat/completions", model, messages, params)
        return Completion(text, tokens_in, tokens_out)

    def check(self) -> list[tuple[bool, str]]:
        """`tuneops providers check acme`: one cheap authenticated call."""
        return check_call(self.api, "jobs?limit=1", "list jobs")

    def close(self) -> None:
        """Close the HTTP client (when this adapter made it)."""
        self.api.close()

    def _job(self, obj: Mapping[str, Any]) -> ProviderJob:
        raw = str(obj.get("status") or "")
        error = obj.get("error") or {}
        return ProviderJob(str(obj["id"]), map_status(STATUSES, raw), raw,
                           model_id=obj.get("fine_tuned_model"), trained_tokens=obj.get("trained_tokens"),
                           idempotency_key=obj.get("client_token"), created_at=_time(obj.get("created_at")),
                           error_code=error.get("code"), error_message=error.get("message"), raw=dict(obj))


def _time(value: Any) -> datetime:
    """Acme's times are Unix seconds; a missing one is now (naive UTC, as tuneops stores times)."""
    moment = datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else datetime.now(UTC)
    return moment.replace(tzinfo=None)
