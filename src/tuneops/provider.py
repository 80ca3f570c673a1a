"""The provider contract: what every fine-tuning back end implements, and the records it returns.

Adapters translate between a provider's API and these normalized records; the orchestrator
decides. A plugin implements ``Provider`` structurally (no inheritance needed) and registers a
factory ``Callable[[ProviderConfig], Provider]`` in the ``tuneops.providers`` entry-point group.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from tuneops.errors import MissingCredential


class RunStatus(enum.StrEnum):
    """A run's normalized status; the provider's raw status is always kept next to it."""

    PENDING = "pending"
    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        """True when the provider will not change this job any more."""
        return self in TERMINAL


TERMINAL = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED})


def map_status(table: Mapping[str, RunStatus], raw: str | None) -> RunStatus:
    """Map a raw provider status through a table; anything unrecognized is UNKNOWN, never a crash."""
    if raw is None:
        return RunStatus.UNKNOWN
    return table.get(raw, table.get(str(raw).lower(), RunStatus.UNKNOWN))


Method = Literal["sft", "dpo"]
Staging = Literal["file_id", "dataset", "bucket_uri"]


@dataclass(frozen=True)
class HyperparameterLimits:
    """Hyperparameter ranges (inclusive) and example minimums a provider accepts; None = not declared
    (not checked). ``source`` says where the numbers come from."""

    seed: tuple[int, int] | None = None
    epochs: tuple[int, int] | None = None
    batch_size: tuple[int, int] | None = None
    learning_rate_multiplier: tuple[float, float] | None = None
    learning_rate: tuple[float, float] | None = None
    min_validation_examples: int | None = None
    source: str = ""


@dataclass(frozen=True)
class Capabilities:
    """What a provider can do, declared as data so it can be listed, compared and checked offline."""

    methods: frozenset[str] = frozenset({"sft"})
    staging: Staging = "file_id"
    data_format: str = "openai_chat"
    can_cancel: bool = True
    can_pause: bool = False
    can_resume: bool = False
    lists_jobs: bool = True
    needs_deployment: bool = False
    max_upload_bytes: int | None = None
    min_examples: int = 10
    learning_rate: Literal["multiplier", "absolute"] = "multiplier"
    batch_size_unit: Literal["examples", "tokens"] = "examples"
    credentials: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    deprecated: str | None = None
    webhooks: bool = False
    notes: str = ""
    # Checked by `tuneops validate` before admission (the training minimum is min_examples above).
    limits: HyperparameterLimits = HyperparameterLimits()
    # How a fine-tuned model can be served (see ServingProvider): "on_demand" (billed per token),
    # "provisioned" / "dedicated" (billed by the hour while it exists); empty when it serves directly.
    serve_modes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hyperparameters:
    """Portable hyperparameters; None means "auto" (the provider chooses)."""

    epochs: int | None = None
    batch_size: int | None = None
    learning_rate_multiplier: float | None = None
    learning_rate: float | None = None
    beta: float | None = None
    seed: int | None = None


@dataclass(frozen=True)
class Upload:
    """A dataset file placed at a provider; ``(provider, sha256)`` identifies it."""

    provider: str
    sha256: str
    provider_file_id: str
    bytes: int
    filename: str = ""


def upload_filename(sha256: str) -> str:
    """The name adapters give an uploaded dataset file, so duplicates can be found by name later."""
    return f"{sha256[:16]}.jsonl"


def same_file(upload: Upload, size: int | None, filename: str | None) -> bool:
    """Whether a provider's file record (size, name) still matches what was uploaded."""
    if size is None or int(size) != upload.bytes:
        return False
    return not (upload.filename and filename and filename != upload.filename)


@dataclass(frozen=True)
class CreateRequest:
    """Everything an adapter needs to create one provider job for one run."""

    job_name: str
    base_model: str
    method: Method
    training: Upload
    validation: Upload | None
    hyperparameters: Hyperparameters
    idempotency_key: str
    suffix: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderJob:
    """A provider's view of one job, normalized, with the raw status and raw JSON kept."""

    provider_job_id: str
    status: RunStatus
    raw_status: str
    model_id: str | None = None
    idempotency_key: str | None = None
    trained_tokens: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    cost_microusd: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderEvent:
    """One event a provider reports about a job (message or metrics)."""

    provider_event_id: str
    created_at: datetime
    level: str
    message: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricPoint:
    """Training metrics at one step."""

    step: int
    train_loss: float | None = None
    valid_loss: float | None = None
    train_accuracy: float | None = None
    valid_accuracy: float | None = None


@dataclass(frozen=True)
class Checkpoint:
    """An intermediate model a provider kept during training."""

    provider_checkpoint_id: str
    step: int
    model_id: str
    metrics: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    """One model answer used by evals, with the token usage the provider billed."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass
class ProviderConfig:
    """How to build an adapter: options from the spec, credentials, an injected HTTP client."""

    options: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    http_client: Any = None  # an httpx.Client; injected by tests (respx) or shared by the caller
    base_url: str | None = None

    def credential(self, provider: str, *names: str, hint: str = "") -> str:
        """Return the first set credential among ``names`` or raise MissingCredential naming them."""
        for name in names:
            value = self.env.get(name)
            if value:
                return value
        raise MissingCredential(provider, list(names), hint)


@runtime_checkable
class Provider(Protocol):
    """A managed fine-tuning API seen through one contract.

    Guarantees every adapter gives:
    - construction checks credentials and raises ``MissingCredential`` before any call is made;
    - every call either returns a normalized record or raises ``TransientProviderError`` (worth a
      retry) or ``PermanentProviderError`` (stop), keeping the provider's own code and message;
    - ``create`` is called once per attempt and never retried inside the adapter (SDK retries off);
      it tags the job with ``idempotency_key`` in a field the provider echoes back, so that
      ``find(idempotency_key)`` can tell afterwards whether the job exists;
    - unknown raw statuses map to ``RunStatus.UNKNOWN``;
    - operations the provider lacks raise ``UnsupportedOperation`` naming the provider.
    """

    name: str
    capabilities: Capabilities

    def prepare(self, records: Iterable[Mapping[str, Any]], method: Method) -> Iterator[bytes]:
        """Convert canonical records into the provider's data format, one encoded line per record."""
        ...

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """Place a prepared file at the provider; the caller has already checked it is not there."""
        ...

    def location(self) -> str:
        """Where this adapter's files and jobs live (base URL, account, project, region; never a secret).

        Part of an upload's key and of a run's intent: the same bytes at another endpoint are another upload.
        """
        ...

    def verify_upload(self, upload: Upload) -> bool:
        """Whether the provider still holds ``upload`` unchanged: the file exists with the same size
        (and name, and checksum where the provider keeps one). False when it is gone or different;
        errors reaching the provider raise as usual."""
        ...

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """Files already at the provider holding these bytes, found by the content-addressed name
        ``upload`` gives them (a crash after upload, a dropped upload response), newest first."""
        ...

    def create_body(self, request: CreateRequest) -> Mapping[str, Any]:
        """The create request this adapter would send, without sending it (no network).

        Raises UnsupportedOperation for settings the provider cannot express, so admission refuses
        them before anything is written; golden tests compare it per provider.
        """
        ...

    def create(self, request: CreateRequest) -> ProviderJob:
        """Create the provider job once, tagged with the request's idempotency key."""
        ...

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Every provider job tagged with this key (reconciliation after an ambiguous create)."""
        ...

    def get(self, provider_job_id: str) -> ProviderJob:
        """The job's current state."""
        ...

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """Recent jobs, newest first, one list per page (batched polling)."""
        ...

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Request cancellation; a no-op on a terminal job."""
        ...

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Pause a running job, or raise UnsupportedOperation."""
        ...

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Resume a paused job, or raise UnsupportedOperation."""
        ...

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """The job's events, oldest first."""
        ...

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Per-step training metrics, by step; empty when the provider has none yet."""
        ...

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """Checkpoints the provider kept, by step."""
        ...

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One chat answer from ``model`` (used by evals)."""
        ...

    def close(self) -> None:
        """Release HTTP clients and other resources."""
        ...


# -- serving ---------------------------------------------------------------------------------------

ServeMode = Literal["on_demand", "provisioned", "dedicated"]
# Modes billed by the hour whether used or not: never started without the spec or a flag saying so.
HOURLY_MODES = frozenset({"provisioned", "dedicated"})


class DeploymentStatus(enum.StrEnum):
    """A deployment's normalized status; the provider's raw status is kept next to it."""

    CREATING = "creating"
    READY = "ready"
    FAILED = "failed"
    DELETING = "deleting"
    GONE = "gone"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeployRequest:
    """Serve one fine-tuned model under a name derived from its run (the name makes deploy idempotent)."""

    name: str
    model_id: str
    mode: ServeMode
    capacity: int = 1
    options: Mapping[str, Any] = field(default_factory=dict)
    hardware: str | None = None  # the accelerator to host on, where the provider asks for one


@dataclass(frozen=True)
class ProviderDeployment:
    """A provider's view of one deployment: its id, the model string inference takes, its hourly cost."""

    provider_deployment_id: str
    name: str
    status: DeploymentStatus
    raw_status: str
    endpoint: str  # what ``infer`` is called with to reach the fine-tuned model through this deployment
    mode: str
    hourly_cost_microusd: int | None  # 0 when billed per token only; None when the price is unknown
    error_message: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class ServingProvider(Protocol):
    """The serving half of the contract, for providers whose fine-tuned models need a deployment.

    Guarantees: ``deploy_model`` creates at most one deployment per request name (a replay returns
    or adopts the existing one); ``find_deployment(name)`` tells afterwards whether it exists, so a
    crash between the call and the ledger write is reconciled like a crash mid-create; a mode the
    provider cannot serve raises ``UnsupportedOperation`` before any call; ``delete_deployment`` of
    one that is already gone is not an error.
    """

    def deploy_model(self, request: DeployRequest) -> ProviderDeployment:
        """Create (or adopt) the deployment named ``request.name`` serving ``request.model_id``."""
        ...

    def find_deployment(self, name: str) -> ProviderDeployment | None:
        """The live deployment with this name, or None (reconciliation after an ambiguous deploy)."""
        ...

    def get_deployment(self, provider_deployment_id: str) -> ProviderDeployment:
        """The deployment's current state."""
        ...

    def delete_deployment(self, provider_deployment_id: str) -> None:
        """Delete the deployment (hourly billing stops); one already gone is fine."""
        ...
