"""MistralProvider: Mistral fine-tuning over plain httpx.

Creation is two-phase, which makes exactly-once easy: the job is created with ``auto_start=false``
(nothing trains, nothing is billed) and carries the idempotency key in ``suffix``, so ``find`` can
see it; once Mistral has validated it (``VALIDATED``) the adapter calls ``POST /jobs/{id}/start``,
either at the end of ``create`` or on the next ``get`` when validation took longer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from tuneops import progress
from tuneops.basemodels import TunableModel
from tuneops.clock import from_unix
from tuneops.errors import ProviderError, UnsupportedOperation
from tuneops.http import (
    UPLOAD_TIMEOUT,
    JSONClient,
    chat_completion,
    check_call,
    clean_raw,
    find_files,
    key_token,
    verify_file,
)
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
    upload_filename,
)
from tuneops.providers.mistral.capabilities import MISTRAL_CAPABILITIES
from tuneops.providers.mistral.models import MODELS
from tuneops.providers.mistral.options import CONNECTION, MistralOptions
from tuneops.providers.mistral.status import AWAITING_START, STATUS_TABLE

DEFAULT_BASE_URL = "https://api.mistral.ai/v1"
# Mistral's reference gives no length; 18 is the limit remembered from its OpenAPI schema (UNCONFIRMED).
# The key token always survives; only the user's part is cut, so a wrong guess costs characters only.
SUFFIX_MAX = 18
TOKEN_LENGTH = 10
DEFAULT_LEARNING_RATE = 1e-4  # Mistral's documented default (mistralai 1.12.4 CompletionTrainingParametersIn)
PAGE_SIZE = 100


class MistralProvider:
    """Mistral: files, two-phase SFT jobs (create validated, then start), events and checkpoints, chat."""

    name: ClassVar[str] = "mistral"
    base_models: ClassVar[tuple[TunableModel, ...]] = MODELS
    options_schema: ClassVar[type[ProviderOptions]] = MistralOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = CONNECTION
    capabilities: ClassVar[Capabilities] = MISTRAL_CAPABILITIES

    def __init__(self, config: ProviderConfig | None = None, *, sleep: Callable[[float], Any] = time.sleep):
        config = config or ProviderConfig()
        self.options = dict(config.options)
        api_key = config.credential(self.name, "MISTRAL_API_KEY",
                                    hint="Create a key at console.mistral.ai (API keys).")
        self._wandb_key = config.env.get("WANDB_API_KEY") or None
        base_url = config.base_url or self.options.get("base_url") or DEFAULT_BASE_URL
        self.api = JSONClient(self.name, base_url, api_key, http_client=config.http_client,
                              secrets=[self._wandb_key or ""])
        self._sleep = sleep

    # -- data ------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records in Mistral's chat JSONL."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """``POST /files`` (multipart, purpose fine-tune)."""
        with progress.open_upload(path, to=self.name) as fh:
            obj = self.api.post("files", operation="upload", timeout=UPLOAD_TIMEOUT, data={"purpose": purpose},
                                files={"file": (f"{sha256[:16]}.jsonl", fh, "application/jsonl")})
        return Upload(self.name, sha256, str(obj["id"]), int(obj.get("bytes") or path.stat().st_size),
                      str(obj.get("filename") or path.name))

    def location(self) -> str:
        """The API base URL (files and jobs belong to the key's account there)."""
        return self.api.base_url

    def verify_upload(self, upload: Upload) -> bool:
        """``GET /files/{id}``: the file is there with the same size and name."""
        return verify_file(self.api, upload, f"files/{upload.provider_file_id}")

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """Files named after these bytes' hash with their size, newest first."""
        return find_files(self.api, sha256, size, (upload_filename(sha256), f"{sha256}.jsonl"))

    # -- create ----------------------------------------------------------------------------------

    def suffix_for(self, request: CreateRequest) -> str:
        """``<suffix>-<key token>`` cut to SUFFIX_MAX characters; the token always survives."""
        token = key_token(request.idempotency_key, TOKEN_LENGTH)
        head = (request.suffix or "")[: max(0, SUFFIX_MAX - len(token) - 1)].rstrip("-._")
        return f"{head}-{token}" if head else token

    def _body(self, request: CreateRequest, *, wandb_key: str | None) -> dict[str, Any]:
        hp, opts = request.hyperparameters, request.options
        if request.method not in self.capabilities.methods:
            raise UnsupportedOperation(f"mistral does not support method {request.method!r}; it trains sft only")
        refusals = ((hp.learning_rate_multiplier, "mistral takes an absolute learning rate, not a multiplier; "
                     "set hyperparameters.learning_rate (Mistral's default is 1e-4)"),
                    (hp.batch_size, "mistral has no batch size setting; remove hyperparameters.batch_size"),
                    (hp.seed, "mistral has no seed setting; remove hyperparameters.seed"),
                    (hp.beta, "mistral has no DPO, so beta does not apply; remove hyperparameters.beta"))
        for value, message in refusals:
            if value is not None:
                raise UnsupportedOperation(message)
        params: dict[str, Any] = {"learning_rate": hp.learning_rate if hp.learning_rate is not None
                                  else DEFAULT_LEARNING_RATE}
        if hp.epochs is not None:
            params["epochs"] = float(hp.epochs)
        for key in ("training_steps", "weight_decay", "warmup_fraction", "seq_len"):
            if key in opts:
                params[key] = opts[key]
        body: dict[str, Any] = {
            "model": request.base_model,
            "training_files": [{"file_id": request.training.provider_file_id, "weight": 1}],
            "hyperparameters": params,
            "suffix": self.suffix_for(request),
            "auto_start": False,  # two-phase: create (validated, findable, not billed), then start
            "job_type": "completion",
        }
        if request.validation is not None:
            body["validation_files"] = [request.validation.provider_file_id]
        if "invalid_sample_skip_percentage" in opts:
            body["invalid_sample_skip_percentage"] = float(opts["invalid_sample_skip_percentage"])
        wandb = opts.get("wandb")
        if wandb:
            if not wandb_key:
                raise UnsupportedOperation("mistral: options.mistral.wandb needs WANDB_API_KEY in the "
                                           "environment (keys never go in a job spec)")
            body["integrations"] = [{"type": "wandb", "project": wandb["project"], "api_key": wandb_key,
                                     **{k: wandb[k] for k in ("name", "run_name") if wandb.get(k)}}]
        return body

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The create body (no network); a W&B key shows as ``<WANDB_API_KEY>``, create sends the real one."""
        return self._body(request, wandb_key="<WANDB_API_KEY>" if self._wandb_key else None)

    def create(self, request: CreateRequest) -> ProviderJob:
        """Create the job inert (``auto_start=false``, sent once), wait for validation, then start it."""
        self.create_body(request)
        body = self._body(request, wandb_key=self._wandb_key)
        raw = self.api.post("fine_tuning/jobs", operation="create", create=True, json=body)
        job_id = str(raw["id"])
        # From here the job exists and find() sees it: failures below are ordinary, not ambiguous.
        deadline = time.monotonic() + float(self.options.get("validation_wait_seconds", 60))
        poll = float(self.options.get("validation_poll_seconds", 2))
        job = self._job(raw)
        while job.status in (RunStatus.QUEUED, RunStatus.VALIDATING) and time.monotonic() + poll <= deadline:
            self._sleep(poll)
            job = self._job(self.api.get(f"fine_tuning/jobs/{job_id}", operation="create"))
        if job.raw_status == AWAITING_START:
            job = self._start(job_id)
        return replace(job, idempotency_key=request.idempotency_key)

    def _start(self, job_id: str) -> ProviderJob:
        try:
            return self._job(self.api.post(f"fine_tuning/jobs/{job_id}/start", operation="start"))
        except ProviderError:
            # Someone (another process, or the console) may have started it meanwhile: look again.
            job = self._job(self.api.get(f"fine_tuning/jobs/{job_id}", operation="start"))
            if job.raw_status == AWAITING_START:
                raise
            return job

    # -- reads -----------------------------------------------------------------------------------

    def _pages(self, operation: str, page_size: int = PAGE_SIZE) -> Iterator[list[dict[str, Any]]]:
        page = 0
        while True:
            data = self.api.get("fine_tuning/jobs", operation=operation,
                                params={"page": page, "page_size": page_size})
            rows = [j for j in data.get("data") or [] if isinstance(j, Mapping)]
            yield rows
            page += 1
            if not rows or page * page_size >= int(data.get("total") or 0):
                return

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Jobs whose suffix ends with the key's token (every page is read: duplicates matter)."""
        token = key_token(idempotency_key, TOKEN_LENGTH)
        return [replace(self._job(raw), idempotency_key=idempotency_key)
                for rows in self._pages("find") for raw in rows
                if str(raw.get("suffix") or "").endswith(token)]

    def get(self, provider_job_id: str) -> ProviderJob:
        """The detailed job; a validated job that waits for its start is started here."""
        job = self._job(self.api.get(f"fine_tuning/jobs/{provider_job_id}", operation="get"))
        if job.raw_status == AWAITING_START and job.raw.get("auto_start") is False:
            return self._start(provider_job_id)
        return job

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """Jobs, one list per page (page-number pagination)."""
        for rows in self._pages("list", min(max(1, limit), PAGE_SIZE)):
            yield [self._job(r) for r in rows]

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Request cancellation; a terminal job is returned unchanged."""
        current = self._job(self.api.get(f"fine_tuning/jobs/{provider_job_id}", operation="cancel"))
        if current.status.terminal:
            return current
        return self._job(self.api.post(f"fine_tuning/jobs/{provider_job_id}/cancel", operation="cancel"))

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Mistral cannot pause a job."""
        raise UnsupportedOperation("mistral cannot pause a fine-tuning job (cancel is the only control)")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Mistral cannot resume a job."""
        raise UnsupportedOperation("mistral cannot resume a fine-tuning job")

    def _detailed(self, provider_job_id: str, operation: str) -> dict[str, Any]:
        return self.api.get(f"fine_tuning/jobs/{provider_job_id}", operation=operation)

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """Events from the detailed job, oldest first."""
        return _events(provider_job_id, self._detailed(provider_job_id, "events"))

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """Checkpoints from the detailed job, by step (they are not separately servable models)."""
        raw = self._detailed(provider_job_id, "checkpoints")
        model = str(raw.get("fine_tuned_model") or "")
        out = [Checkpoint(f"{provider_job_id}:step-{c.get('step_number')}", int(c.get("step_number") or 0), model,
                          dict(c.get("metrics") or {})) for c in raw.get("checkpoints") or []]
        return sorted(out, key=lambda c: c.step)

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Per-step metrics, taken from the checkpoints' metrics."""
        return [MetricPoint(c.step, _f(c.metrics.get("train_loss")), _f(c.metrics.get("valid_loss")), None,
                            _f(c.metrics.get("valid_mean_token_accuracy"))) for c in self.checkpoints(provider_job_id)]

    # -- money, serving, health ------------------------------------------------------------------

    def estimate_price(self, request: CreateRequest) -> int | None:
        """Mistral's dry-run cost estimate in micro-dollars (None unless quoted in USD)."""
        body = self.create_body(request)
        body.pop("integrations", None)  # an estimate needs no W&B, and must not carry a placeholder key
        data = self.api.post("fine_tuning/jobs", operation="estimate", params={"dry_run": "true"}, json=body)
        cost, currency = data.get("cost"), str(data.get("cost_currency") or "").upper()
        return round(float(cost) * 1_000_000) if cost is not None and currency == "USD" else None

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One chat completion (``POST /chat/completions``)."""
        text, p, c, _ = chat_completion(self.api, "chat/completions", model, messages, params)
        return Completion(text, p, c)

    def check(self) -> list[tuple[bool, str]]:
        """One cheap authenticated call (one job of the first page)."""
        return check_call(self.api, "fine_tuning/jobs?page=0&page_size=1", "GET /fine_tuning/jobs")

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        self.api.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _job(self, raw: Mapping[str, Any]) -> ProviderJob:
        raw_status = str(raw.get("status") or "")
        status = map_status(STATUS_TABLE, raw_status or None)
        meta = raw.get("metadata") or {}
        cost = meta.get("cost") if str(meta.get("cost_currency") or "").upper() == "USD" else None
        code = message = None
        if status is RunStatus.FAILED:
            code, message = raw_status, _failure(_events(str(raw.get("id")), raw))
        return ProviderJob(
            provider_job_id=str(raw.get("id")),
            status=status,
            raw_status=raw_status,
            model_id=(raw.get("fine_tuned_model") or None) if status is RunStatus.SUCCEEDED else None,
            trained_tokens=raw.get("trained_tokens"),
            error_code=code,
            error_message=message,
            created_at=from_unix(raw.get("created_at")),
            finished_at=from_unix(raw.get("modified_at")) if status.terminal else None,
            cost_microusd=round(float(cost) * 1_000_000) if cost is not None and status.terminal else None,
            raw=clean_raw(raw, self.api.secrets),
        )


def _events(job_id: str, raw: Mapping[str, Any]) -> list[ProviderEvent]:
    out = []
    for ev in raw.get("events") or []:
        name, data = str(ev.get("name") or "event"), dict(ev.get("data") or {})
        bad = "fail" in name.lower() or "error" in name.lower() or bool(data.get("error"))
        detail = data.get("error") or data.get("message") or data.get("status")
        out.append(ProviderEvent(f"{job_id}:{name}:{ev.get('created_at')}", from_unix(ev.get("created_at"))
                                 or from_unix(0), "error" if bad else "info",  # type: ignore[arg-type]
                                 f"{name}: {detail}" if detail else name, data))
    return sorted(out, key=lambda e: e.created_at)


def _failure(events: list[ProviderEvent]) -> str | None:
    for ev in reversed(events):
        if ev.level == "error":
            return ev.message
    return events[-1].message if events else None


def _f(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
