"""BedrockProvider: AWS Bedrock model customization (fine-tuning) through boto3, data staged in S3.

Options (``[options.bedrock]`` in a job spec): ``role_arn`` (the IAM role Bedrock assumes to read the
data and write the output; required), ``bucket`` and ``prefix`` (where datasets are staged),
``output_s3_uri`` (default ``s3://<bucket>/<prefix>output/``), ``region`` (else AWS_REGION),
``data_format`` (``bedrock_conversation`` by default; ``bedrock_prompt_completion`` for Titan and
Llama 2), ``hyperparameters`` (extra documented names such as ``learningRateWarmupSteps``),
``kms_key_id``, ``vpc_config``, and for serving ``model_units``, ``commitment_duration``,
``provisioned_hourly_usd``. Credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
or AWS_PROFILE, from the environment the adapter is given.

Bedrock de-duplicates creates itself (``clientRequestToken``); tuneops also derives the job name
from the run's key, so a replayed create either returns the same job or collides on the name and
adopts it. Bedrock has no pause and no event list: state changes are published to EventBridge
(source ``aws.bedrock``, detail-type "Model Customization Job State Change"), which tuneops does not
subscribe to; it polls ``get`` instead. A trained model must be deployed before ``infer`` (see
``deploy``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from tuneops.basemodels import TunableModel
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
)
from tuneops.providers.bedrock import metrics as metric_files
from tuneops.providers.bedrock import naming, parse, serving
from tuneops.providers.bedrock.capabilities import CAPABILITIES
from tuneops.providers.bedrock.deploy import BedrockServing
from tuneops.providers.bedrock.errors import NAME_TAKEN, MissingOption, call, error_code, translate
from tuneops.providers.bedrock.hyperparams import CONVERSATION, PROMPT_COMPLETION, family_of, hyperparameters
from tuneops.providers.bedrock.models import MODELS
from tuneops.providers.bedrock.options import CONNECTION, BedrockOptions
from tuneops.providers.bedrock.session import client, session
from tuneops.providers.bedrock.staging import S3Staging

KEY_TAG = "tuneops-key"
JOB_TAG = "tuneops-job"



class BedrockProvider(BedrockServing):
    """Bedrock customization jobs: S3 staging, create/get/list/stop, S3 metrics, deploy, Converse."""

    name: ClassVar[str] = "bedrock"
    base_models: ClassVar[tuple[TunableModel, ...]] = MODELS
    options_schema: ClassVar[type[ProviderOptions]] = BedrockOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = CONNECTION
    capabilities: Capabilities = CAPABILITIES

    def __init__(self, config: ProviderConfig | None = None):
        config = config or ProviderConfig()
        self.options = dict(config.options)
        fmt = self.options.get("data_format")
        if fmt is not None:
            if fmt not in (CONVERSATION, PROMPT_COMPLETION):
                raise UnsupportedOperation(f"options.bedrock.data_format must be {CONVERSATION!r} or "
                                           f"{PROMPT_COMPLETION!r}; got {fmt!r}")
            self.capabilities = replace(CAPABILITIES, data_format=fmt)
        self._session = session(config, self.options, self.name)
        self.bedrock = client(self._session, "bedrock")
        self.bucket = self.options.get("bucket")
        self.prefix = str(self.options.get("prefix", "tuneops/"))

    @cached_property
    def s3(self) -> Any:
        """The S3 client (created on first use)."""
        return client(self._session, "s3")

    @cached_property
    def runtime(self) -> Any:
        """The bedrock-runtime client for Converse (created on first use)."""
        return client(self._session, "bedrock-runtime")

    # -- data ------------------------------------------------------------------------------------

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        """Canonical records in this adapter's Bedrock format (conversation or prompt/completion)."""
        from tuneops.datasets.convert import convert

        return convert(records, self.capabilities.data_format, method)

    def upload(self, path: Path, *, sha256: str, purpose: str = "fine-tune") -> Upload:
        """Stage the file at ``s3://<bucket>/<prefix><sha256>.jsonl`` unless it is already there."""
        if not self.bucket:
            raise MissingOption("bedrock reads training data from S3: set options.bedrock.bucket to a bucket "
                                "in the job's region that options.bedrock.role_arn can read")
        return S3Staging(self.s3, str(self.bucket), self.prefix, self.name).upload(path, sha256)

    def location(self) -> str:
        """The region (and the staging bucket) jobs and data live in."""
        return f"{self._session.region_name or ''} s3://{self.bucket or ''}"

    def verify_upload(self, upload: Upload) -> bool:
        """The staged object is still there with the same size and checksum."""
        return bool(self.bucket) and S3Staging(self.s3, str(self.bucket), self.prefix, self.name).verify(upload)

    def find_uploads(self, sha256: str, size: int) -> list[Upload]:
        """The object at these bytes' content address, if there."""
        if not self.bucket:
            return []
        return S3Staging(self.s3, str(self.bucket), self.prefix, self.name).find(sha256, size)

    # -- jobs ------------------------------------------------------------------------------------

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The CreateModelCustomizationJob arguments for ``request`` (no network)."""
        opts = {**self.options, **dict(request.options)}
        if request.method != "sft":
            raise UnsupportedOperation(f"bedrock does not support method {request.method!r}; use sft")
        family = family_of(request.base_model)
        fmt = self.capabilities.data_format
        if family is not None and fmt not in family.formats:
            raise UnsupportedOperation(f"{family.name} on bedrock trains on {' or '.join(family.formats)} data, "
                                       f"but this adapter prepares {fmt}: set options.bedrock.data_format = "
                                       f"\"{family.formats[0]}\"")
        role = opts.get("role_arn")
        if not role:
            raise MissingOption("bedrock needs options.bedrock.role_arn: an IAM role Bedrock can assume to "
                                "read the training data and write the job's output in S3")
        bucket = opts.get("bucket")
        output = opts.get("output_s3_uri") or (f"s3://{bucket}/{self.prefix}output/" if bucket else None)
        if not output:
            raise MissingOption("bedrock needs an output location: set options.bedrock.output_s3_uri "
                                "or options.bedrock.bucket")
        key = request.idempotency_key
        tags = [{"key": KEY_TAG, "value": naming.tag_value(key)},
                {"key": JOB_TAG, "value": naming.tag_value(request.job_name)}]
        body: dict[str, Any] = {
            "jobName": naming.job_name(request.job_name, key),
            "customModelName": naming.model_name(request.suffix or request.job_name, key),
            "roleArn": str(role),
            "clientRequestToken": naming.client_token(key),
            "baseModelIdentifier": request.base_model,
            "customizationType": "FINE_TUNING",
            "trainingDataConfig": {"s3Uri": request.training.provider_file_id},
            "outputDataConfig": {"s3Uri": str(output)},
            "jobTags": tags,
            "customModelTags": tags,
        }
        if request.validation is not None:
            body["validationDataConfig"] = {"validators": [{"s3Uri": request.validation.provider_file_id}]}
        hp = hyperparameters(request.base_model, request.hyperparameters, opts.get("hyperparameters"))
        if hp:
            body["hyperParameters"] = hp
        if opts.get("kms_key_id"):
            body["customModelKmsKeyId"] = str(opts["kms_key_id"])
        if opts.get("vpc_config"):
            body["vpcConfig"] = dict(opts["vpc_config"])
        return body

    def create(self, request: CreateRequest) -> ProviderJob:
        """Create the job once; a replay of the same run returns the job that already exists."""
        from botocore.exceptions import BotoCoreError, ClientError

        body = self.create_body(request)
        try:
            self.bedrock.create_model_customization_job(**body)
        except ClientError as exc:
            if error_code(exc) in NAME_TAKEN:
                return self._adopt(body, exc)
            raise translate(exc, self.name, "create", create=True) from exc
        except BotoCoreError as exc:
            raise translate(exc, self.name, "create", create=True) from exc
        try:
            return self.get(body["jobName"])
        except (TransientProviderError, PermanentProviderError):
            # The job exists; report it as submitted and let the next poll fill in the rest.
            return ProviderJob(body["jobName"], RunStatus.PENDING, "Submitted", idempotency_key=request.idempotency_key,
                               raw={"jobName": body["jobName"], "clientRequestToken": body["clientRequestToken"]})

    def _adopt(self, body: Mapping[str, Any], exc: Exception) -> ProviderJob:
        """The job a name collision points at, if it is this run's own earlier create."""
        try:
            existing = self.get(body["jobName"])
        except TransientProviderError as read_exc:
            raise AmbiguousCreate(f"job name {body['jobName']} is taken and the job could not be read: {read_exc}",
                                  provider=self.name, operation="create") from exc
        except PermanentProviderError:
            raise translate(exc, self.name, "create", create=True) from exc  # e.g. the model name is taken
        if existing.raw.get("clientRequestToken") == body["clientRequestToken"]:
            return existing
        raise PermanentProviderError(
            f"a bedrock job named {body['jobName']} already exists but was created by another request; "
            "rename the job spec or delete that job", provider=self.name, operation="create",
            code=error_code(exc))

    def find(self, idempotency_key: str) -> list[ProviderJob]:
        """Jobs whose name ends in this key's digest and whose request token is this key's."""
        suffix = "-" + naming.digest(idempotency_key)
        token = naming.client_token(idempotency_key)
        found = []
        for summary in self._summaries(operation="find", nameContains=suffix[1:]):
            name = summary.get("jobName", "")
            if name.endswith(suffix):
                job = self.get(name)
                if job.raw.get("clientRequestToken") == token:
                    found.append(job)
        return found

    def _summaries(self, *, operation: str, **filters: Any) -> Iterator[dict[str, Any]]:
        for page in self._pages(operation=operation, **filters):
            yield from page

    def _pages(self, *, operation: str, max_results: int = 100, **filters: Any) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        while True:
            kwargs = {"maxResults": max(1, min(max_results, 1000)), "sortBy": "CreationTime",
                      "sortOrder": "Descending", **filters}
            if token:
                kwargs["nextToken"] = token
            page = call(self.name, operation, lambda kw=kwargs: self.bedrock.list_model_customization_jobs(**kw))
            yield list(page.get("modelCustomizationJobSummaries") or [])
            token = page.get("nextToken")
            if not token:
                return

    def get(self, provider_job_id: str) -> ProviderJob:
        """The job by name (or ARN), with statusDetails, metrics and the full response in ``raw``."""
        return parse.job(call(self.name, "get", lambda: self.bedrock.get_model_customization_job(
            jobIdentifier=provider_job_id)))

    def list_jobs(self, *, limit: int = 100) -> Iterator[list[ProviderJob]]:
        """Jobs newest first, one list per page (from summaries: no request tokens)."""
        for page in self._pages(operation="list", max_results=limit):
            yield [parse.job(s) for s in page]

    def cancel(self, provider_job_id: str) -> ProviderJob:
        """Stop the job; a finished job is returned unchanged."""
        current = self.get(provider_job_id)
        if current.status.terminal:
            return current
        call(self.name, "cancel", lambda: self.bedrock.stop_model_customization_job(jobIdentifier=provider_job_id))
        return self.get(provider_job_id)

    def pause(self, provider_job_id: str) -> ProviderJob:
        """Bedrock customization jobs cannot be paused."""
        raise UnsupportedOperation("bedrock customization jobs cannot be paused; stop and resubmit instead")

    def resume(self, provider_job_id: str) -> ProviderJob:
        """Bedrock customization jobs cannot be resumed."""
        raise UnsupportedOperation("bedrock customization jobs cannot be resumed (they cannot be paused)")

    def events(self, provider_job_id: str) -> list[ProviderEvent]:
        """None: Bedrock publishes job events to EventBridge only (see the module docstring)."""
        return []

    def metrics(self, provider_job_id: str) -> list[MetricPoint]:
        """Training and validation loss per step from the job's S3 metrics files (empty until written)."""
        return metric_files.read(self.s3, self.get(provider_job_id).raw, self.name)

    def checkpoints(self, provider_job_id: str) -> list[Checkpoint]:
        """None: Bedrock keeps only the final custom model."""
        return []

    # -- serving ---------------------------------------------------------------------------------

    def deploy(self, model_arn: str, *, provisioned: bool = False) -> serving.Deployment:
        """Make a custom model callable: on-demand where offered; Provisioned Throughput only if asked."""
        return serving.deploy(self.bedrock, model_arn, self.options, self.name, provisioned=provisioned)

    def undeploy(self, deployment_arn: str) -> None:
        """Delete a deployment or Provisioned Throughput (ends its hourly billing)."""
        serving.undeploy(self.bedrock, deployment_arn, self.name)

    def infer(self, model: str, messages: list[Mapping[str, Any]], **params: Any) -> Completion:
        """One Converse call; ``model`` is a deployment ARN, a provisioned model ARN or a base model id."""
        request = parse.converse_request(model, messages, params)
        return parse.completion(call(self.name, "infer", lambda: self.runtime.converse(**request)))

    def close(self) -> None:
        """Close the boto3 clients this adapter created."""
        for name in ("bedrock", "s3", "runtime"):
            c = self.__dict__.get(name)
            if c is not None and hasattr(c, "close"):
                c.close()
