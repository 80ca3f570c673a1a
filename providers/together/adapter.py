"""TogetherProvider: Together AI fine-tuning over plain httpx.

The idempotency key travels in ``suffix``: it is the only free-text field of the create request
that Together echoes back on every job object (``suffix`` in the list/get/cancel responses, and
inside ``model_output_name``). Together has no metadata or labels, and ``wandb_name`` is only
meaningful with a W&B key. The suffix is ``<your suffix>-tk<hash of the key>`` (at most 40
characters), and ``find`` lists the account's jobs and matches that token.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from tuneops.basemodels import TunableModel
from tuneops.errors import UnsupportedOperation
from tuneops.http import JSONClient, chat_completion, check_call, clean_raw, find_files, key_token, verify_file
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
from tuneops.providers.together import files
from tuneops.providers.together.capabilities import TOGETHER_CAPABILITIES
from tuneops.providers.together.models import MODELS
from tuneops.providers.together.options import CONNECTION, TogetherOptions
from tuneops.providers.together.serving import TogetherServing
from tuneops.providers.together.status import ERROR_EVENT_TYPES, STATUS_TABLE

DEFAULT_BASE_URL = "https://api.together.xyz/v1"
SUFFIX_MAX = 40  # "Up to 40 character suffix" (together 3.1.1 create() docstring)
TOKEN_LENGTH = 14
# What together 3.1.1's create() sends when the caller leaves a value unset; Together's own
# defaults for "auto". lora_r comes from per-model limits in the SDK; 8 is a common default rank
# (UNCONFIRMED per model: set options.together.lora_r to be explicit).
DEFAULTS: dict[str, Any] = {"n_epochs": 1, "learning_rate": 1e-5, "batch_size": "max", "lora_r": 8,
                            "warmup_ratio": 0.0, "max_grad_norm": 1.0, "weight_decay": 0.0}
_NANODOLLARS_PER_MICRODOLLAR = 1000  # job.total_price is in nanodollars (SDK finetune_price_to_dollars)


def _parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


class TogetherProvider(TogetherServing):
    """Together AI: file upload, LoRA/full SFT and DPO jobs, events, metrics, checkpoints, chat."""

    name: ClassVar[str] = "together"
    base_models: ClassVar[tuple[TunableModel, ...]] = MODELS
    options_schema: ClassVar[type[ProviderOptions]] = TogetherOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = CONNECTION
    capabilities: ClassVar[Capabilities] = TOGETHER_CAPABILITIES

    def __init__(self, config: ProviderConfig | None = None, *, sleep: Callable[[float], Any] = time.sleep):
        config = config or ProviderConfig()
        self.options = dict(config.options)
        api_key = config.credential(self.name, "TOGETHER_API_KEY",
                                    hint="Create a key at api.together.ai (Settings, API keys).")
        self._wandb_key = config.env.get("WANDB_API_KEY") or None
        self._wandb_base_url = config.env.get("WANDB_BASE_URL") or None
        base_url = (config.base_url or self.options.get("base_url") or config.env.get("TOGETHER_BASE_URL")
                    or DEFAULT_BASE_URL)
        self.api = JSONClient(self.name, base_url, api_key, http_client=config.http_client,
                              secrets=[self._wandb_key or ""])
        self._sleep = sleep

    # -- data ------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records in the OpenAI-style chat / preference JSONL Together reads."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """Upload through the presigned-URL flow and wait until Together validated the file."""
        return files.upload_file(self.api, path, sha256, purpose,
                                 wait_seconds=float(self.options.get("file_wait_seconds", 600)),
                                 poll_seconds=float(self.options.get("file_poll_seconds", 2)),
                                 sleep=self._sleep)

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
        """``<suffix>-<key token>`` cut to Together's 40 characters; the token always survives."""
        token = key_token(request.idempotency_key, TOKEN_LENGTH)
        head = (request.suffix or "")[: SUFFIX_MAX - len(token) - 1].rstrip("-._")
        return f"{head}-{token}" if head else token

    def _training(self, request: CreateRequest) -> tuple[dict[str, Any], dict[str, Any]]:
        opts, hp = request.options, request.hyperparameters
        if request.method == "sft":
            method: dict[str, Any] = {"method": "sft", "train_on_inputs": opts.get("train_on_inputs", "auto")}
            if hp.beta is not None:
                raise UnsupportedOperation("together: beta applies to DPO only; remove it or use method dpo")
        else:
            method = {"method": "dpo"}
            if hp.beta is not None:
                method["dpo_beta"] = hp.beta
        kind = str(opts.get("training_type", "lora")).lower()
        if kind == "full":
            training_type: dict[str, Any] = {"type": "Full"}
        elif kind == "lora":
            r = int(opts.get("lora_r", DEFAULTS["lora_r"]))
            training_type = {"type": "Lora", "lora_r": r, "lora_alpha": int(opts.get("lora_alpha", 2 * r)),
                             "lora_dropout": float(opts.get("lora_dropout", 0.0)),
                             "lora_trainable_modules": str(opts.get("lora_trainable_modules", "all-linear"))}
        else:
            raise UnsupportedOperation(f"together: options.together.training_type must be 'lora' or 'full', "
                                       f"not {kind!r}")
        return method, training_type

    def _body(self, request: CreateRequest, *, wandb_key: str | None) -> dict[str, Any]:
        hp, opts = request.hyperparameters, request.options
        if request.method not in self.capabilities.methods:
            raise UnsupportedOperation(f"together does not support method {request.method!r}")
        if hp.learning_rate_multiplier is not None:
            raise UnsupportedOperation(
                "together takes an absolute learning rate, not a multiplier; set "
                "hyperparameters.learning_rate (Together's default is 1e-5) instead of learning_rate_multiplier")
        method, training_type = self._training(request)
        body: dict[str, Any] = {
            "model": request.base_model,
            "training_file": request.training.provider_file_id,
            "suffix": self.suffix_for(request),
            "n_epochs": hp.epochs if hp.epochs is not None else DEFAULTS["n_epochs"],
            "learning_rate": hp.learning_rate if hp.learning_rate is not None else DEFAULTS["learning_rate"],
            "batch_size": hp.batch_size if hp.batch_size is not None else DEFAULTS["batch_size"],
            "warmup_ratio": float(opts.get("warmup_ratio", DEFAULTS["warmup_ratio"])),
            "max_grad_norm": float(opts.get("max_grad_norm", DEFAULTS["max_grad_norm"])),
            "weight_decay": float(opts.get("weight_decay", DEFAULTS["weight_decay"])),
            "training_method": method,
            "training_type": training_type,
        }
        if request.validation is not None:
            body["validation_file"] = request.validation.provider_file_id
            body["n_evals"] = int(opts.get("n_evals", 1))
        for key in ("n_checkpoints", "max_seq_length", "lr_scheduler", "from_checkpoint", "packing"):
            if key in opts:
                body[key] = opts[key]
        if hp.seed is not None:
            body["random_seed"] = hp.seed
        wandb = opts.get("wandb")
        if wandb:
            if not wandb_key:
                raise UnsupportedOperation("together: options.together.wandb needs WANDB_API_KEY in the "
                                           "environment (keys never go in a job spec)")
            body["wandb_key"] = wandb_key
            for ours, theirs in (("project", "wandb_project_name"), ("name", "wandb_name"),
                                 ("entity", "wandb_entity")):
                if wandb.get(ours):
                    body[theirs] = wandb[ours]
            # Where the W&B key is sent: from the environment like the key itself, never from a spec.
            if self._wandb_base_url:
                body["wandb_base_url"] = self._wandb_base_url
        return body

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The create body (no network); a W&B key shows as ``<WANDB_API_KEY>``, create sends the real one."""
        return self._body(request, wandb_key="<WANDB_API_KEY>" if self._wandb_key else None)

    def create(self, request: CreateRequest) -> ProviderJob:
        """``POST /fine-tunes`` once (no retries), tagged with the key in the suffix."""
        self.create_body(request)  # refuse what Together cannot express before sending secrets anywhere
        body = self._body(request, wandb_key=self._wandb_key)
        data = self.api.post("fine-tunes", operation="create", create=True, json=body)
        return replace(self._job(data), idempotency_key=request.idempotency_key)

    # -- reads -----------------------------------------------------------------------------------

    def _all_jobs(self, operation: str) -> list[dict[str, Any]]:
        data = self.api.get("fine-tunes", operation=operation)
        jobs = [j for j in (data.get("data") or []) if isinstance(j, Mapping)]
        return sorted(jobs, key=lambda j: str(j.get("created_at") or ""), reverse=True)

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Jobs whose suffix (or, failing that, output model name) carries the key's token."""
        token = key_token(idempotency_key, TOKEN_LENGTH)
        found = []
        for raw in self._all_jobs("find"):
            suffix = str(raw.get("suffix") or "")
            output = str(raw.get("model_output_name") or "")
            if suffix.endswith(token) or (not suffix and token in output):
                found.append(replace(self._job(raw), idempotency_key=idempotency_key))
        return found

    def get(self, provider_job_id: str) -> ProviderJob:
        """The job; a failed job also carries the reason from its error event."""
        raw = self.api.get(f"fine-tunes/{provider_job_id}", operation="get")
        job = self._job(raw)
        if job.status is RunStatus.FAILED and not job.error_message:
            code, message = self._error_from_events(self._raw_events(provider_job_id))
            job = replace(job, error_code=code or job.error_code, error_message=message)
        return job

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """Jobs newest first (Together returns them all at once; pages are cut here)."""
        jobs = [self._job(j) for j in self._all_jobs("list")]
        for i in range(0, len(jobs), max(1, limit)):
            yield jobs[i:i + limit]
        if not jobs:
            yield []

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Request cancellation; a terminal job is returned unchanged."""
        current = self.get(provider_job_id)
        if current.status.terminal:
            return current
        return self._job(self.api.post(f"fine-tunes/{provider_job_id}/cancel", operation="cancel"))

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Together cannot pause a job."""
        raise UnsupportedOperation("together cannot pause a fine-tuning job (cancel is the only control)")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Together cannot resume a job (start a new one with options.together.from_checkpoint)."""
        raise UnsupportedOperation("together cannot resume a job; start a new run with "
                                   "options.together.from_checkpoint = '<job id>:<step>'")

    def _raw_events(self, provider_job_id: str) -> list[dict[str, Any]]:
        data = self.api.get(f"fine-tunes/{provider_job_id}/events", operation="events")
        return [e for e in (data.get("data") or []) if isinstance(e, Mapping)]

    @staticmethod
    def _error_from_events(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
        for ev in reversed(events):
            if str(ev.get("type") or "").upper() in ERROR_EVENT_TYPES or str(ev.get("level", "")).lower() == "error":
                return ev.get("type"), ev.get("message")
        return None, None

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """The job's events, oldest first (``JOB_ERROR``/``JOB_USER_ERROR`` say why a job failed)."""
        out = []
        for ev in self._raw_events(provider_job_id):
            created = _parse_time(ev.get("created_at")) or datetime(1970, 1, 1)
            message = str(ev.get("message") or "")
            ident = ev.get("hash") or hashlib.sha256(
                f"{ev.get('created_at')}|{ev.get('type')}|{message}".encode()).hexdigest()[:24]
            data = {k: ev[k] for k in ("type", "step", "total_steps", "token_count", "param_count",
                                       "checkpoint_path", "wandb_url") if ev.get(k) is not None}
            level = str(ev.get("level") or "info").lower().removeprefix("legacy_i").removeprefix("legacy_")
            out.append(ProviderEvent(str(ident), created, level or "info", message, data))
        return sorted(out, key=lambda e: e.created_at)

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Per-step metrics (rows keyed like ``train/global_step``, ``train/loss``, ``eval/loss``)."""
        data = self.api.get(f"fine-tunes/{provider_job_id}/metrics", operation="metrics")
        by_step: dict[int, dict[str, float | None]] = {}
        for row in data.get("metrics") or []:
            step = _first(row, "train/global_step", "global_step", "step")
            if step is None:
                continue
            point = by_step.setdefault(int(step), {})
            for field, names in (("train_loss", ("train/loss", "train_loss", "loss")),
                                 ("valid_loss", ("eval/loss", "eval_loss", "valid_loss", "validation/loss"))):
                value = _first(row, *names)
                if value is not None:
                    point[field] = value
        return [MetricPoint(step, v.get("train_loss"), v.get("valid_loss")) for step, v in sorted(by_step.items())]

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """Checkpoints by step; the id is ``<job id>:<step>``, what ``from_checkpoint`` accepts."""
        data = self.api.get(f"fine-tunes/{provider_job_id}/checkpoints", operation="checkpoints")
        out = []
        for c in data.get("data") or []:
            step = int(c.get("step") or 0)
            out.append(Checkpoint(f"{provider_job_id}:{step}", step, str(c.get("object_name") or c.get("path") or ""),
                                  {k: c[k] for k in ("checkpoint_type", "checkpoint", "path", "created_at")
                                   if c.get(k) is not None}))
        return sorted(out, key=lambda c: c.step)

    # -- money, serving, health ------------------------------------------------------------------

    def estimate_price(self, request: CreateRequest) -> int | None:
        """Together's own price estimate for ``request`` in micro-dollars; None when it has none."""
        body = self.create_body(request)
        ask = {k: body[k] for k in ("training_file", "validation_file", "model", "n_epochs", "n_evals",
                                    "training_type", "training_method", "from_checkpoint") if k in body}
        ask.setdefault("n_evals", 0)
        data = self.api.post("fine-tunes/estimate-price", operation="estimate", json=ask)
        price = data.get("estimated_total_price")
        if not data.get("estimation_available") or price is None:
            return None
        return round(float(price) * 1_000_000)  # dollars (the SDK prints it as ${:.2f})

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One chat completion through Together's OpenAI-compatible endpoint."""
        text, p, c, _ = chat_completion(self.api, "chat/completions", model, messages, params)
        return Completion(text, p, c)

    def check(self) -> list[tuple[bool, str]]:
        """One cheap authenticated call (list files)."""
        return check_call(self.api, "files", "GET /files")

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        self.api.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _job(self, raw: Mapping[str, Any]) -> ProviderJob:
        raw_status = str(raw.get("status") or "")
        status = map_status(STATUS_TABLE, raw_status or None)
        tokens, epochs = raw.get("token_count"), raw.get("n_epochs")
        price = raw.get("total_price")
        code = message = None
        if status is RunStatus.FAILED:
            code, message = self._error_from_events([e for e in raw.get("events") or [] if isinstance(e, Mapping)])
        return ProviderJob(
            provider_job_id=str(raw.get("id")),
            status=status,
            raw_status=raw_status,
            model_id=(raw.get("model_output_name") or None) if status is RunStatus.SUCCEEDED else None,
            trained_tokens=int(tokens) * int(epochs or 1) if tokens else None,
            error_code=code or (raw_status if status is RunStatus.FAILED else None),
            error_message=message,
            created_at=_parse_time(raw.get("created_at")),
            finished_at=_parse_time(raw.get("updated_at")) if status.terminal else None,
            cost_microusd=int(price) // _NANODOLLARS_PER_MICRODOLLAR if price else None,
            raw=clean_raw(raw, self.api.secrets),
        )


def _first(row: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        value = row.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None
