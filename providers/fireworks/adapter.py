"""FireworksProvider: Fireworks AI fine-tuning over plain httpx.

Exactly once comes for free here: the job id is chosen by the client (``supervisedFineTuningJobId``
/ ``dpoJobId``) and derived from the run's idempotency key, so a second create with the same key
collides (409) instead of starting a second job; ``create`` then returns the existing job, and
``find`` is a plain GET of that id.

Batch size: Fireworks' ``batchSize`` counts tokens; the portable ``batch_size`` (examples) maps to
``batchSizeSamples``, and a token budget can be set with ``options.fireworks.batch_size_tokens``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tuneops.basemodels import TunableModel
from tuneops.errors import PermanentProviderError, ProviderError, UnsupportedOperation
from tuneops.http import JSONClient, chat_completion, check_call, clean_raw, resource_id, translate_response
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
from tuneops.providers.fireworks import datasets
from tuneops.providers.fireworks.capabilities import FIREWORKS_CAPABILITIES
from tuneops.providers.fireworks.models import MODELS
from tuneops.providers.fireworks.options import CONNECTION, FireworksOptions
from tuneops.providers.fireworks.serving import FireworksServing
from tuneops.providers.fireworks.status import STATUS_TABLE

DEFAULT_BASE_URL = "https://api.fireworks.ai/v1/accounts/{account}"
DEFAULT_INFERENCE_PATH = "/inference/v1"
COLLECTIONS = {"sft": ("supervisedFineTuningJobs", "supervisedFineTuningJobId"),
               "dpo": ("dpoJobs", "dpoJobId")}


@dataclass(frozen=True)
class FireworksDeployment:
    """A dedicated deployment serving a fine-tuned model; ``serve_model`` is what chat calls use."""

    deployment_id: str
    model_id: str
    state: str
    serve_model: str
    raw: Mapping[str, Any] = field(default_factory=dict)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


class FireworksProvider(FireworksServing):
    """Fireworks AI: datasets, SFT and DPO jobs with client-chosen ids, resume, deployments, chat."""

    name: ClassVar[str] = "fireworks"
    base_models: ClassVar[tuple[TunableModel, ...]] = MODELS
    options_schema: ClassVar[type[ProviderOptions]] = FireworksOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = CONNECTION
    capabilities: ClassVar[Capabilities] = FIREWORKS_CAPABILITIES

    def __init__(self, config: ProviderConfig | None = None, *, sleep: Callable[[float], Any] = time.sleep):
        config = config or ProviderConfig()
        self.options = dict(config.options)
        api_key = config.credential(self.name, "FIREWORKS_API_KEY",
                                    hint="Create a key at fireworks.ai (Account settings, API keys).")
        self.account = str(self.options.get("account") or config.credential(
            self.name, "FIREWORKS_ACCOUNT_ID", hint="Or set options.fireworks.account in the job spec."))
        self._wandb_key = config.env.get("WANDB_API_KEY") or None
        base = (config.base_url or self.options.get("base_url") or config.env.get("FIREWORKS_BASE_URL")
                or DEFAULT_BASE_URL)
        if "{account}" not in base and "/accounts/" not in base:
            base = base.rstrip("/") + "/v1/accounts/{account}"
        self.base_url = base.format(account=self.account)
        self.api = JSONClient(self.name, self.base_url, api_key, http_client=config.http_client,
                              secrets=[self._wandb_key or ""])
        root = urlsplit(self.base_url)
        self.inference_url = str(self.options.get("inference_base_url")
                                 or f"{root.scheme}://{root.netloc}{DEFAULT_INFERENCE_PATH}").rstrip("/")
        self._sleep = sleep

    # -- data ------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records in the OpenAI-style chat / preference JSONL Fireworks reads."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """A READY dataset named after the content hash (created and uploaded unless it exists)."""
        return datasets.upload_dataset(self.api, self.account, path, sha256,
                                       wait_seconds=float(self.options.get("dataset_wait_seconds", 300)),
                                       poll_seconds=float(self.options.get("dataset_poll_seconds", 2)),
                                       sleep=self._sleep)

    def location(self) -> str:
        """The account's API base URL (datasets and jobs belong to the account)."""
        return self.base_url

    def verify_upload(self, upload: Upload) -> bool:
        """The dataset at the bytes' content address is READY and is the one recorded (its id is the
        checksum: a dataset named after other bytes is another dataset)."""
        found = datasets.ready_dataset(self.api, self.account, upload.sha256, upload.bytes)
        return found is not None and found.provider_file_id == upload.provider_file_id

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """The READY dataset named after these bytes, if one is there."""
        found = datasets.ready_dataset(self.api, self.account, sha256, size)
        return [found] if found else []

    # -- create ----------------------------------------------------------------------------------

    def job_id_for(self, idempotency_key: str) -> str:
        """The job id a key maps to (lowercase letters, digits and hyphens, at most 63 characters)."""
        return resource_id(idempotency_key)

    def _training(self, request: CreateRequest, *, wandb_key: str | None) -> dict[str, Any]:
        hp, opts = request.hyperparameters, request.options
        if hp.learning_rate_multiplier is not None:
            raise UnsupportedOperation(
                "fireworks takes an absolute learning rate, not a multiplier; set hyperparameters."
                "learning_rate instead of learning_rate_multiplier")
        if hp.seed is not None:
            raise UnsupportedOperation("fireworks has no seed setting; remove hyperparameters.seed")
        cfg: dict[str, Any] = {"baseModel": request.base_model, "outputModel": self.job_id_for(request.idempotency_key)}
        for value, key in ((hp.epochs, "epochs"), (hp.learning_rate, "learningRate"),
                           (hp.batch_size, "batchSizeSamples"), (opts.get("batch_size_tokens"), "batchSize"),
                           (opts.get("lora_rank"), "loraRank"), (opts.get("max_context_length"), "maxContextLength"),
                           (opts.get("learning_rate_warmup_steps"), "learningRateWarmupSteps"),
                           (opts.get("gradient_accumulation_steps"), "gradientAccumulationSteps")):
            if value is not None:
                cfg[key] = value
        wandb = opts.get("wandb")
        if wandb:
            if not wandb_key:
                raise UnsupportedOperation("fireworks: options.fireworks.wandb needs WANDB_API_KEY in the "
                                           "environment (keys never go in a job spec)")
            cfg["wandbConfig"] = {"enabled": True, "apiKey": wandb_key,
                                  **{k: wandb[k] for k in ("project", "entity", "runId") if wandb.get(k)}}
        return cfg

    def _request(self, request: CreateRequest, *, wandb_key: str | None) -> dict[str, Any]:
        if request.method not in self.capabilities.methods:
            raise UnsupportedOperation(f"fireworks does not support method {request.method!r}")
        collection, id_param = COLLECTIONS[request.method]
        cfg = self._training(request, wandb_key=wandb_key)
        display = (f"{request.job_name}-{request.suffix}" if request.suffix else request.job_name)[:128]
        body: dict[str, Any] = {"dataset": request.training.provider_file_id, "displayName": display}
        hp = request.hyperparameters
        if request.method == "sft":
            if hp.beta is not None:
                raise UnsupportedOperation("fireworks: beta applies to DPO only; remove it or use method dpo")
            body.update(cfg)
            if request.validation is not None:
                body["evaluationDataset"] = request.validation.provider_file_id
        else:
            if request.validation is not None:
                raise UnsupportedOperation("fireworks DPO jobs take no validation dataset; remove data.validation")
            wandb = cfg.pop("wandbConfig", None)
            body["trainingConfig"] = cfg
            # The DPO endpoint's default loss is GRPO, not DPO: say DPO explicitly.
            body["lossConfig"] = {"method": "DPO", **({"dpo": {"beta": hp.beta}} if hp.beta is not None else {})}
            if wandb:
                body["wandbConfig"] = wandb
        return {"method": "POST", "path": collection,
                "params": {id_param: self.job_id_for(request.idempotency_key)}, "json": body}

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """Path, query (the client-chosen job id) and JSON body of the create call (no network)."""
        return self._request(request, wandb_key="<WANDB_API_KEY>" if self._wandb_key else None)

    def create(self, request: CreateRequest) -> ProviderJob:
        """Create the job once; if the id already exists (a replay), return the existing job."""
        self.create_body(request)
        call = self._request(request, wandb_key=self._wandb_key)
        response = self.api.request("POST", call["path"], operation="create", create=True, ok=(400, 409),
                                    params=call["params"], json=call["json"])
        job_path = f"{call['path']}/{self.job_id_for(request.idempotency_key)}"
        if response.status_code == 400 and "already exist" not in response.text.lower():
            raise translate_response(response, self.name, "create", create=True, secrets=self.api.secrets)
        if response.status_code in (400, 409):
            # ALREADY_EXISTS (409 from the gateway; a 400 saying so is accepted too, being cheap to be
            # wrong about): this key's job was created by an earlier attempt.
            try:
                existing = self.api.get(job_path, operation="create")
            except PermanentProviderError:
                raise PermanentProviderError(
                    f"HTTP 409: {response.text[:300]} (no job {job_path} exists; the output model or another "
                    "resource with this id may exist)", provider=self.name, operation="create", status=409) from None
            return replace(self._job(existing), idempotency_key=request.idempotency_key)
        return replace(self._job(response.json()), idempotency_key=request.idempotency_key)

    # -- reads -----------------------------------------------------------------------------------

    def _path(self, provider_job_id: str) -> str:
        prefix = f"accounts/{self.account}/"
        return provider_job_id[len(prefix):] if provider_job_id.startswith(prefix) else provider_job_id

    def _fetch(self, provider_job_id: str, operation: str) -> dict[str, Any]:
        path = self._path(provider_job_id)
        if "/" in path:
            return self.api.get(path, operation=operation)
        for collection, _ in COLLECTIONS.values():  # a bare id: either kind
            try:
                return self.api.get(f"{collection}/{path}", operation=operation)
            except PermanentProviderError as exc:
                if exc.status != 404:
                    raise
        raise PermanentProviderError(f"no fine-tuning job {provider_job_id}", provider=self.name,
                                     operation=operation, status=404)

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """The job whose id is derived from this key, if it exists (a GET, not a scan)."""
        try:
            raw = self._fetch(self.job_id_for(idempotency_key), "find")
        except PermanentProviderError as exc:
            if exc.status == 404:
                return []
            raise
        return [replace(self._job(raw), idempotency_key=idempotency_key)]

    def get(self, provider_job_id: str) -> ProviderJob:
        """The job's current state."""
        return self._job(self._fetch(provider_job_id, "get"))

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """SFT then DPO jobs, newest first within each kind, one list per page."""
        for collection, _ in COLLECTIONS.values():
            token: str | None = None
            while True:
                params: dict[str, Any] = {"pageSize": min(limit, 200), "orderBy": "createTime desc"}
                if token:
                    params["pageToken"] = token
                data = self.api.get(collection, operation="list", params=params)
                yield [self._job(j) for j in data.get(collection) or []]
                token = data.get("nextPageToken")
                if not token:
                    break

    def _control(self, provider_job_id: str, verb: str) -> ProviderJob:
        self.api.post(f"{self._path(provider_job_id)}:{verb}", operation=verb, json={})
        return self.get(provider_job_id)

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Cancel the job; a terminal job is returned unchanged."""
        current = self.get(provider_job_id)
        return current if current.status.terminal else self._control(current.provider_job_id, "cancel")

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Fireworks has no pause call (jobs can be paused by Fireworks and resumed)."""
        raise UnsupportedOperation("fireworks cannot pause a job on request; only resume a paused job")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Resume a paused (or failed, where Fireworks allows it) job."""
        return self._control(self.get(provider_job_id).provider_job_id, "resume")

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """Fireworks keeps no event list; the job's own timestamps and status become events."""
        raw = self._fetch(provider_job_id, "events")
        name = str(raw.get("name") or provider_job_id)
        out = []
        if created := _parse_time(raw.get("createTime")):
            out.append(ProviderEvent(f"{name}:created", created, "info", "job created"))
        status = raw.get("status") or {}
        if status.get("code") not in (None, "OK"):
            when = _parse_time(raw.get("completedTime") or raw.get("updateTime")) or created or datetime(1970, 1, 1)
            out.append(ProviderEvent(f"{name}:{status.get('code')}", when, "error",
                                     str(status.get("message") or status.get("code")), {"code": status.get("code")}))
        if done := _parse_time(raw.get("completedTime")):
            out.append(ProviderEvent(f"{name}:completed", done, "info", f"job ended: {raw.get('state')}"))
        return sorted(out, key=lambda e: e.created_at)

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Per-step metrics from the job's metrics file, once Fireworks has written one."""
        raw = self._fetch(provider_job_id, "metrics")
        url = raw.get("metricsFileSignedUrl")
        if not url and "/dpoJobs/" in str(raw.get("name")):
            url = self.api.get(f"{self._path(str(raw['name']))}:getMetricsFileEndpoint",
                               operation="metrics").get("signedUrl")
        if not url:
            return []
        text = self.api.request("GET", url, operation="metrics", auth=False).text
        return parse_metrics_file(text)

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """Managed Fireworks jobs expose no intermediate checkpoints."""
        return []

    # -- serving, health -------------------------------------------------------------------------

    def deploy(self, model_id: str, *, deployment_id: str | None = None, min_replicas: int = 0,
               max_replicas: int = 1) -> FireworksDeployment:
        """A dedicated deployment for ``model_id`` (LoRA models need one to answer); reused if it exists."""
        model = model_id if model_id.startswith("accounts/") else f"accounts/{self.account}/models/{model_id}"
        dep_id = deployment_id or resource_id("tuneops-" + model.rsplit("/", 1)[-1])
        response = self.api.request("POST", "deployments", operation="deploy", ok=(409,),
                                    params={"deploymentId": dep_id},
                                    json={"baseModel": model, "displayName": dep_id,
                                          "minReplicaCount": min_replicas, "maxReplicaCount": max_replicas})
        raw = self.api.get(f"deployments/{dep_id}", operation="deploy") if response.status_code == 409 \
            else response.json()
        name = str(raw.get("name") or f"accounts/{self.account}/deployments/{dep_id}")
        return FireworksDeployment(name, model, str(raw.get("state") or ""), f"{model}#{name}",
                                   clean_raw(raw, self.api.secrets))

    def undeploy(self, deployment_id: str) -> None:
        """Delete a deployment (stops its hourly cost); a missing one is fine."""
        try:
            self.api.request("DELETE", f"deployments/{self._path(deployment_id).rsplit('/', 1)[-1]}",
                             operation="undeploy")
        except ProviderError as exc:
            if exc.status != 404:
                raise

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One chat completion at Fireworks' OpenAI-compatible inference endpoint."""
        text, p, c, _ = chat_completion(self.api, f"{self.inference_url}/chat/completions", model, messages, params)
        return Completion(text, p, c)

    def check(self) -> list[tuple[bool, str]]:
        """One cheap authenticated call (one page of one dataset)."""
        return check_call(self.api, "datasets?pageSize=1", f"account {self.account}")

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        self.api.close()

    # -- helpers ---------------------------------------------------------------------------------

    def _job(self, raw: Mapping[str, Any]) -> ProviderJob:
        raw_status = str(raw.get("state") or "")
        status = map_status(STATUS_TABLE, raw_status or None)
        output = raw.get("outputModel") or (raw.get("trainingConfig") or {}).get("outputModel")
        model = None
        if status is RunStatus.SUCCEEDED and output:
            model = output if str(output).startswith("accounts/") else f"accounts/{self.account}/models/{output}"
        err = raw.get("status") or {}
        failed = status is RunStatus.FAILED
        return ProviderJob(
            provider_job_id=str(raw.get("name") or raw.get("id") or ""),
            status=status,
            raw_status=raw_status,
            model_id=model,
            error_code=(err.get("code") or raw_status) if failed else None,
            error_message=err.get("message") if failed else None,
            created_at=_parse_time(raw.get("createTime")),
            finished_at=_parse_time(raw.get("completedTime")),
            raw=clean_raw(raw, self.api.secrets),
        )


def parse_metrics_file(text: str) -> list[MetricPoint]:
    """Metrics from a Fireworks metrics file (JSON lines; the exact columns are UNCONFIRMED)."""
    by_step: dict[int, dict[str, float]] = {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if not isinstance(row, dict):
            continue
        step = next((row[k] for k in ("step", "global_step", "train/global_step") if isinstance(row.get(k), int)), None)
        if step is None:
            continue
        point = by_step.setdefault(step, {})
        for ours, names in (("train_loss", ("train_loss", "loss", "train/loss")),
                            ("valid_loss", ("eval_loss", "valid_loss", "eval/loss"))):
            for n in names:
                if isinstance(row.get(n), int | float):
                    point[ours] = float(row[n])
                    break
    return [MetricPoint(s, v.get("train_loss"), v.get("valid_loss")) for s, v in sorted(by_step.items())]
