"""Test helpers for the Bedrock adapter: moto's Bedrock and S3 mocks, steered from the tests.

moto keeps jobs ``InProgress`` forever (``stop`` is its only transition) and has no statusDetails,
so the harness writes the status straight into moto's backend and teaches the job's ``to_dict`` to
report sub-statuses. Failures are injected with a botocore ``before-call`` hook that answers in
place of moto with an AWS-shaped error. Loaded by conftest.py as the module ``fakebedrock``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneops.provider import CreateRequest, Hyperparameters, RunStatus, Upload
from tuneops.providers.bedrock import BedrockProvider
from tuneops.providers.bedrock.status import ALL_RAW, PHASES

FIXTURES = Path(__file__).parent / "fixtures"
REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "tuneops-data"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/BedrockCustomization"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ENV = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_REGION": REGION}
OPTIONS = {"role_arn": ROLE, "bucket": BUCKET}
NOVA = "amazon.nova-micro-v1:0:128k"
KEY = "tuneops-run_01jexample000000000"
TRAIN_SHA = "1f0b3c" + "0" * 58
VALID_SHA = "9ad2e7" + "0" * 58

# The error code AWS sends with each HTTP status the contract suite injects.
CODES = {400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
         408: "RequestTimeout", 409: "ConflictException", 429: "ThrottlingException",
         500: "InternalServerException", 503: "ServiceUnavailableException"}
# API operations behind the contract's operation names.
OPERATIONS = {"CreateModelCustomizationJob": "create", "GetModelCustomizationJob": "get",
              "ListModelCustomizationJobs": "find", "StopModelCustomizationJob": "cancel",
              "HeadObject": "upload", "PutObject": "upload"}


def load(name: str) -> dict[str, Any]:
    """A JSON fixture."""
    return json.loads((FIXTURES / name).read_text())


def example_request(base_model: str = NOVA, **hp: Any) -> CreateRequest:
    """The example job spec (support-triage, 3 epochs, suffix triage) as a Bedrock create request."""
    train = Upload("bedrock", TRAIN_SHA, f"s3://{BUCKET}/tuneops/{TRAIN_SHA}.jsonl", 2048, f"{TRAIN_SHA}.jsonl")
    valid = Upload("bedrock", VALID_SHA, f"s3://{BUCKET}/tuneops/{VALID_SHA}.jsonl", 512, f"{VALID_SHA}.jsonl")
    return CreateRequest(job_name="support-triage", base_model=base_model, method="sft", training=train,
                         validation=valid, hyperparameters=Hyperparameters(**{"epochs": 3, **hp}),
                         idempotency_key=KEY, suffix="triage")


def backend() -> Any:
    """moto's Bedrock backend for the test account and region."""
    from moto.bedrock.models import bedrock_backends

    return bedrock_backends[ACCOUNT][REGION]


def aws_error(status: int, message: str = "", headers: Mapping[str, str] | None = None,
              code: str | None = None) -> tuple[Any, dict[str, Any]]:
    """A (http response, parsed body) pair botocore treats as this AWS error."""
    from botocore.awsrequest import AWSResponse

    hdrs = dict(headers or {})
    parsed = {"Error": {"Code": code or CODES.get(status, "UnknownError"),
                        "Message": message or f"injected HTTP {status}"},
              "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": hdrs}}
    return AWSResponse("https://bedrock.invalid", status, hdrs, None), parsed


@dataclass
class Calls:
    """What the adapter asked botocore for, and failures to answer with instead."""

    params: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: dict[str, list[Any]] = field(default_factory=dict)

    def record(self, params: Mapping[str, Any], model: Any, **kwargs: Any) -> None:
        """botocore before-parameter-build handler: keep the API parameters of every call."""
        self.params.append((model.name, dict(params)))

    def inject(self, model: Any, **kwargs: Any) -> Any:
        """botocore before-call handler: answer with a queued failure instead of moto, if any."""
        queue = self.failures.get(model.name)
        if queue:
            failure = queue.pop(0)
            if isinstance(failure, Exception):
                raise failure
            return failure
        return None

    def of(self, operation: str) -> list[dict[str, Any]]:
        """The recorded request params of one API operation."""
        return [p for name, p in self.params if name == operation]


def watch(provider: BedrockProvider) -> Calls:
    """Record (and let tests fail) every Bedrock and S3 call this adapter makes."""
    calls = Calls()
    for client, service in ((provider.bedrock, "bedrock"), (provider.s3, "s3")):
        client.meta.events.register(f"before-parameter-build.{service}", calls.record)
        client.meta.events.register(f"before-call.{service}", calls.inject)
    return calls


@dataclass
class BedrockHarness:
    """ContractHarness over BedrockProvider and moto."""

    provider: BedrockProvider
    calls: Calls
    raw_statuses: dict[str, RunStatus] = field(default_factory=lambda: dict(ALL_RAW))

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Write the status (and the sub-task in progress) into moto's job."""
        job = backend().model_customization_jobs[provider_job_id]
        status, _, phase = raw_status.partition("/")
        job.status = status
        details: dict[str, Any] = {}
        reached = True
        for member, name in PHASES:
            details[member] = {"status": "InProgress" if name == phase else "Completed" if reached else "NotStarted"}
            if name == phase:
                reached = False
        job.status_details = details if phase else None

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """Answer the next call of ``operation`` with an AWS error of this HTTP status."""
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        for api, op in OPERATIONS.items():
            if op == operation:
                self.calls.failures.setdefault(api, []).append(aws_error(http_status, headers=headers))
                if operation == "upload":
                    break  # HeadObject comes first

    def jobs_created(self) -> int:
        """Jobs moto holds."""
        return len(backend().model_customization_jobs)


def checked(client: Any, operation: str, response: dict[str, Any]) -> dict[str, Any]:
    """``response`` after checking it against the operation's output shape in botocore's service model."""
    from botocore.validate import ParamValidator

    shape = client.meta.service_model.operation_model(operation).output_shape
    report = ParamValidator().validate(response, shape)
    assert not report.has_errors(), report.generate_report()
    return response


@dataclass
class FakeServing:
    """What moto lacks: custom model deployments, Provisioned Throughput and Converse, in memory,
    answered through botocore ``before-call`` hooks with responses checked against the service model."""

    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by ARN
    converse_models: list[str] = field(default_factory=list)
    creates: int = 0
    offers_on_demand: bool = True

    def install(self, provider: BedrockProvider) -> None:
        """Answer the serving and Converse operations of this adapter's clients."""
        provider.bedrock.meta.events.register("before-call.bedrock", self._bedrock)
        provider.runtime.meta.events.register("before-call.bedrock-runtime", self._runtime)
        self.client, self.runtime = provider.bedrock, provider.runtime

    def _ok(self, client: Any, operation: str, body: dict[str, Any]) -> Any:
        from botocore.awsrequest import AWSResponse

        parsed = checked(client, operation, body)
        return AWSResponse("https://bedrock.invalid", 200, {}, None), {
            **parsed, "ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {}}}

    def _find(self, identifier: str) -> dict[str, Any] | None:
        return self.deployments.get(identifier) or next(
            (d for d in self.deployments.values() if identifier in (d.get("modelDeploymentName"),
                                                                    d.get("provisionedModelName"))), None)

    def _bedrock(self, model: Any, params: Mapping[str, Any], **kwargs: Any) -> Any:
        import datetime as dt

        op, now = model.name, dt.datetime(2026, 12, 6, tzinfo=dt.UTC)
        body = json.loads(params["body"]) if params.get("body") else {}
        ident = params["url_path"].rsplit("/", 1)[-1]
        from urllib.parse import unquote

        ident = unquote(ident)
        if op == "CreateCustomModelDeployment":
            if not self.offers_on_demand:
                return aws_error(400, "On-demand deployment is not supported for this model")
            found = self._find(body["modelDeploymentName"])
            if found is None:
                self.creates += 1
                arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/{self.creates:012d}"
                found = self.deployments[arn] = {"customModelDeploymentArn": arn, "createdAt": now,
                                                 "modelDeploymentName": body["modelDeploymentName"],
                                                 "modelArn": body["modelArn"], "status": "Creating"}
            return self._ok(self.client, op, {"customModelDeploymentArn": found["customModelDeploymentArn"]})
        if op == "CreateProvisionedModelThroughput":
            found = self._find(body["provisionedModelName"])
            if found is None:
                self.creates += 1
                arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/{self.creates:012d}"
                found = self.deployments[arn] = {
                    "provisionedModelArn": arn, "provisionedModelName": body["provisionedModelName"],
                    "modelArn": body["modelId"], "desiredModelArn": body["modelId"],
                    "foundationModelArn": f"arn:aws:bedrock:{REGION}::foundation-model/{NOVA}",
                    "modelUnits": body["modelUnits"], "desiredModelUnits": body["modelUnits"],
                    "status": "Creating", "creationTime": now, "lastModifiedTime": now}
            return self._ok(self.client, op, {"provisionedModelArn": found["provisionedModelArn"]})
        if op in ("GetCustomModelDeployment", "GetProvisionedModelThroughput"):
            found = self._find(ident)
            kind = "customModelDeploymentArn" if op == "GetCustomModelDeployment" else "provisionedModelArn"
            if found is None or kind not in found:
                return aws_error(404, f"{ident} not found")
            found["status"] = {"Creating": "Active" if kind == "customModelDeploymentArn" else "InService"}.get(
                found["status"], found["status"])  # comes up after one look
            return self._ok(self.client, op, dict(found))
        if op in ("DeleteCustomModelDeployment", "DeleteProvisionedModelThroughput"):
            found = self._find(ident)
            if found is None:
                return aws_error(404, f"{ident} not found")
            del self.deployments[found.get("customModelDeploymentArn") or found["provisionedModelArn"]]
            return self._ok(self.client, op, {})
        return None  # moto answers the rest

    def _runtime(self, model: Any, params: Mapping[str, Any], **kwargs: Any) -> Any:
        from urllib.parse import unquote

        if model.name != "Converse":
            return None
        model_id = unquote(params["url_path"].split("/model/", 1)[1].split("/converse")[0])
        self.converse_models.append(model_id)
        dep = self.deployments.get(model_id)
        if dep is None or dep["status"] not in ("Active", "InService"):
            return aws_error(400, f"{model_id} is not deployed; invoke a deployment or a provisioned model")
        return self._ok(self.runtime, "Converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "billing"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 12, "outputTokens": 1, "totalTokens": 13},
            "metrics": {"latencyMs": 85}})
