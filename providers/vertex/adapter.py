"""VertexProvider: Gemini tuning on Vertex AI over plain REST (httpx), data staged in Cloud Storage.

Options (``[options.vertex]`` in a job spec): ``project`` (else GOOGLE_CLOUD_PROJECT, else the ADC
project), ``region`` (default us-central1), ``bucket`` and ``prefix`` (where datasets are staged),
``adapter_size``, ``tuning_mode``, ``export_last_checkpoint_only``, ``kms_key_name``,
``service_account``, ``api_version`` (default v1). Credentials: GOOGLE_OAUTH_ACCESS_TOKEN, or
Application Default Credentials through google-auth (``pip install 'tuneops[vertex]'``).

Vertex has no event list, no per-step metrics API and no pause: ``events``/``metrics`` return
nothing (metrics live in Vertex Experiments), ``pause``/``resume`` refuse.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx

from tuneops.basemodels import TunableModel
from tuneops.errors import MissingCredential, PermanentProviderError, UnsupportedOperation
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
    Upload,
)
from tuneops.providers.vertex import body as bodies
from tuneops.providers.vertex import parse
from tuneops.providers.vertex.api import VertexAPI
from tuneops.providers.vertex.auth import token_source
from tuneops.providers.vertex.capabilities import CAPABILITIES
from tuneops.providers.vertex.errors import MissingOption
from tuneops.providers.vertex.gcs import GCSStaging
from tuneops.providers.vertex.labels import KEY_LABEL, encode_key
from tuneops.providers.vertex.models import MODELS
from tuneops.providers.vertex.options import CONNECTION, VertexOptions

DEFAULT_REGION = "us-central1"


# Generation settings evals may pass, mapped to generationConfig fields.
_GENERATION = {"temperature": "temperature", "max_tokens": "maxOutputTokens",
               "max_output_tokens": "maxOutputTokens", "top_p": "topP", "top_k": "topK",
               "stop": "stopSequences", "seed": "seed"}


class VertexProvider:
    """Vertex AI Gemini tuning: GCS staging, supervised and preference jobs, checkpoints, generateContent."""

    name: ClassVar[str] = "vertex"
    base_models: ClassVar[tuple[TunableModel, ...]] = MODELS
    options_schema: ClassVar[type[ProviderOptions]] = VertexOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = CONNECTION
    capabilities: ClassVar[Capabilities] = CAPABILITIES

    def __init__(self, config: ProviderConfig | None = None):
        config = config or ProviderConfig()
        self.options = dict(config.options)
        self._owns_http = config.http_client is None
        http = config.http_client or httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        try:
            tokens = token_source(config, self.name, http)
            project = (self.options.get("project") or config.env.get("GOOGLE_CLOUD_PROJECT")
                       or tokens.project)
            if not project:
                raise MissingCredential(self.name, ["GOOGLE_CLOUD_PROJECT"],
                                        "Or set options.vertex.project in the job spec.")
        except Exception:
            if self._owns_http:
                http.close()
            raise
        self.api = VertexAPI(http, tokens, provider=self.name, project=str(project),
                             region=str(self.options.get("region") or DEFAULT_REGION),
                             api_version=str(self.options.get("api_version") or "v1"),
                             base_url=config.base_url or self.options.get("base_url"),
                             storage_url=self.options.get("storage_url"))
        bucket = self.options.get("bucket")
        self.staging = (GCSStaging(self.api, str(bucket), str(self.options.get("prefix", "tuneops/")))
                        if bucket else None)

    # -- data ------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records as Gemini tuning JSONL (contents/systemInstruction, or completions for dpo)."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """Stage the file at ``gs://<bucket>/<prefix><sha256>.jsonl`` unless it is already there."""
        if self.staging is None:
            raise self._no_bucket()
        return self.staging.upload(path, sha256)

    def location(self) -> str:
        """The project and region jobs run in, and the bucket data is staged in."""
        bucket = self.staging.bucket if self.staging else ""
        return f"projects/{self.api.project}/locations/{self.api.region} gs://{bucket}"

    def verify_upload(self, upload: Upload) -> bool:
        """The staged object is still there with the same size (and checksum where kept)."""
        return self.staging is not None and self.staging.verify(upload)

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """The object at these bytes' content address, if there."""
        return self.staging.find(sha256, size) if self.staging is not None else []

    def _no_bucket(self) -> MissingOption:
        return MissingOption("vertex reads training data from Cloud Storage: set options.vertex.bucket "
                             "to a bucket the Vertex AI service agent can read")

    # -- jobs ------------------------------------------------------------------------------------

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The TuningJob this adapter would POST for ``request`` (no network)."""
        opts = {**self.options, **dict(request.options)}
        if self.staging is None and not str(request.training.provider_file_id).startswith("gs://"):
            raise self._no_bucket()
        return bodies.create_body(request, opts)

    def create(self, request: CreateRequest) -> ProviderJob:
        """POST the tuning job once; its labels and description carry the idempotency key."""
        body = self.create_body(request)
        version = bodies.api_version(body, self.api.api_version)
        raw = self.api.json("POST", self.api.url(f"{self.api.parent}/tuningJobs", version), operation="create",
                            create=True, body=body)
        return parse.job(raw)

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Jobs labelled with this key (label filter on the server where accepted, always re-checked here)."""
        value = encode_key(idempotency_key)
        try:
            pages = list(self._pages(filter_=f'labels.{KEY_LABEL}="{value}"', operation="find"))
        except PermanentProviderError as exc:
            if exc.status != 400:
                raise
            # Label filtering on tuningJobs.list is undocumented; if refused, list everything instead.
            pages = list(self._pages(operation="find"))
        return [parse.job(raw) for page in pages for raw in page
                if (raw.get("labels") or {}).get(KEY_LABEL) == value]

    def _pages(self, *, operation: str, filter_: str | None = None,
               page_size: int = 100) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": page_size}
            if filter_:
                params["filter"] = filter_
            if token:
                params["pageToken"] = token
            data = self.api.json("GET", self.api.url(f"{self.api.parent}/tuningJobs"), operation=operation,
                                 params=params)
            yield list(data.get("tuningJobs") or [])
            token = data.get("nextPageToken")
            if not token:
                return

    def _resource(self, provider_job_id: str) -> str:
        # Accept the bare numeric id too, resolved in this adapter's project and region.
        return provider_job_id if "/" in provider_job_id else f"{self.api.parent}/tuningJobs/{provider_job_id}"

    def _raw(self, provider_job_id: str, operation: str = "get") -> dict[str, Any]:
        return self.api.json("GET", self.api.url(self._resource(provider_job_id)), operation=operation)

    def get(self, provider_job_id: str) -> ProviderJob:
        """The job's current state (raw JSON, data stats and tuned model kept in ``raw``)."""
        return parse.job(self._raw(provider_job_id))

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """Jobs in this project and region, one list per page, newest first within a page."""
        for page in self._pages(operation="list", page_size=limit):
            jobs = [parse.job(raw) for raw in page]
            yield sorted(jobs, key=lambda j: (j.created_at is not None, j.created_at), reverse=True)

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Request cancellation; a finished job is returned unchanged."""
        current = self.get(provider_job_id)
        if current.status.terminal:
            return current
        self.api.json("POST", self.api.url(f"{self._resource(provider_job_id)}:cancel"), operation="cancel",
                      body={})
        return self.get(provider_job_id)

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Vertex tuning jobs cannot be paused."""
        raise UnsupportedOperation("vertex tuning jobs cannot be paused; cancel and resubmit instead")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Vertex tuning jobs cannot be resumed."""
        raise UnsupportedOperation("vertex tuning jobs cannot be resumed (they cannot be paused)")

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """None: Vertex keeps no event list for tuning jobs (states are in ``get``)."""
        return []

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """None: per-step metrics live in Vertex Experiments, which tuneops does not read yet."""
        return []

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """The tuned model's checkpoints, by step."""
        return parse.checkpoints(self._raw(provider_job_id, "checkpoints"))

    # -- inference -------------------------------------------------------------------------------

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One generateContent call on a tuned endpoint (``projects/.../endpoints/...``) or a base model."""
        body = generate_request(messages, params)
        resource = model if "/" in model else f"{self.api.parent}/publishers/google/models/{model}"
        raw = self.api.json("POST", self.api.url(f"{resource}:generateContent"), operation="infer", body=body)
        return parse.completion(raw)

    def close(self) -> None:
        """Close the HTTP client if this adapter created it."""
        if self._owns_http:
            self.api.http.close()


def generate_request(messages: list[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """A chat (OpenAI-style roles) as a generateContent body: system -> systemInstruction, assistant -> model."""
    from tuneops.datasets.records import text_of

    system: list[str] = []
    contents: list[dict[str, Any]] = []
    for m in messages:
        role = m.get("role")
        text = text_of(m.get("content")) or ""
        if role in ("system", "developer"):
            system.append(text)
        else:
            contents.append({"role": "model" if role == "assistant" else "user", "parts": [{"text": text}]})
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
    unknown = sorted(set(params) - set(_GENERATION))
    if unknown:
        raise UnsupportedOperation(f"vertex inference does not take {', '.join(unknown)}; "
                                   f"it takes {', '.join(sorted(_GENERATION))}")
    config = {_GENERATION[k]: ([v] if k == "stop" and isinstance(v, str) else v)
              for k, v in params.items() if v is not None}
    if config:
        body["generationConfig"] = config
    return body
