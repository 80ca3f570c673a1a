"""Make a Bedrock custom model callable: on-demand deployment where offered, else Provisioned Throughput.

On-demand custom model deployment (CreateCustomModelDeployment) bills per token and is offered
only for some models and regions. Provisioned Throughput works for any custom model but bills by
the hour whether used or not, so tuneops buys it only when asked with ``provisioned=True`` and
reports its hourly cost: ``options.bedrock.provisioned_hourly_usd`` (per model unit, from the AWS
pricing page for your model and region) times ``options.bedrock.model_units`` (default 1); without
the price the cost is reported as unknown. Deployment names and request tokens derive from the
model ARN, so a repeated deploy of the same model does not buy twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from tuneops.errors import UnsupportedOperation
from tuneops.providers.bedrock.errors import call, error_code, translate

# Errors with which CreateCustomModelDeployment says "not for this model/region/account".
_NOT_OFFERED = frozenset({"ValidationException", "AccessDeniedException", "UnknownOperationException"})


@dataclass(frozen=True)
class Deployment:
    """A served custom model: the id to pass to ``infer``, how it is served, and its hourly cost."""

    model_id: str
    kind: Literal["on_demand", "provisioned"]
    hourly_cost_microusd: int | None  # 0 for on-demand (billed per token); None when unknown
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cost_note(self) -> str:
        """The hourly cost in words, for the CLI and audit events."""
        if self.kind == "on_demand":
            return "on-demand: billed per token, no hourly charge"
        if self.hourly_cost_microusd is None:
            return "provisioned: billed hourly at a price tuneops does not know (set options.bedrock." \
                   "provisioned_hourly_usd to record it)"
        return f"provisioned: ${self.hourly_cost_microusd / 1e6:,.2f} per hour until deleted"


def deployment_name(model_arn: str) -> str:
    """A stable name (and request token) for serving ``model_arn``."""
    return "tuneops-" + hashlib.sha256(model_arn.encode()).hexdigest()[:24]


def hourly_cost_microusd(options: Mapping[str, Any], units: int) -> int | None:
    """The configured hourly price of ``units`` model units in micro-dollars, or None."""
    price = options.get("provisioned_hourly_usd")
    if price is None:
        return None
    return round(float(price) * 1_000_000) * units


def _price_text(options: Mapping[str, Any], units: int) -> str:
    cost = hourly_cost_microusd(options, units)
    return ("at an hourly price tuneops does not know (set options.bedrock.provisioned_hourly_usd)"
            if cost is None else f"at ${cost / 1e6:,.2f} per hour")


def deploy(bedrock: Any, model_arn: str, options: Mapping[str, Any], provider: str, *,
           provisioned: bool = False, name: str | None = None, units: int | None = None) -> Deployment:
    """Serve ``model_arn`` on demand, or with Provisioned Throughput when ``provisioned`` is True."""
    name = name or deployment_name(model_arn)
    units = units or int(options.get("model_units", 1))
    if provisioned:
        kwargs: dict[str, Any] = {"modelUnits": units, "provisionedModelName": name, "modelId": model_arn,
                                  "clientRequestToken": name}
        if options.get("commitment_duration"):
            kwargs["commitmentDuration"] = str(options["commitment_duration"])
        resp = call(provider, "deploy", lambda: bedrock.create_provisioned_model_throughput(**kwargs))
        arn = resp["provisionedModelArn"]
        return Deployment(arn, "provisioned", hourly_cost_microusd(options, units),
                          {"provisionedModelArn": arn, "modelUnits": units, "modelArn": model_arn})
    refusal = (f"on-demand deployment is not available for {model_arn} here; Provisioned Throughput "
               f"serves any custom model but bills {units} model unit(s) {_price_text(options, units)} "
               "until deleted: call deploy(model_arn, provisioned=True) to buy it")
    if not hasattr(bedrock, "create_custom_model_deployment"):
        raise UnsupportedOperation(refusal + " (this botocore predates on-demand deployment; upgrade boto3)")
    from botocore.exceptions import ClientError

    try:
        resp = bedrock.create_custom_model_deployment(modelDeploymentName=name, modelArn=model_arn,
                                                      clientRequestToken=name)
    except ClientError as exc:
        if error_code(exc) in _NOT_OFFERED:
            message = exc.response.get("Error", {}).get("Message", "")
            raise UnsupportedOperation(f"{refusal} (AWS said: {message})") from exc
        raise translate(exc, provider, "deploy") from exc
    arn = resp["customModelDeploymentArn"]
    return Deployment(arn, "on_demand", 0, {"customModelDeploymentArn": arn, "modelArn": model_arn})


def undeploy(bedrock: Any, deployment_arn: str, provider: str) -> None:
    """Delete an on-demand deployment or a Provisioned Throughput (which stops its hourly billing)."""
    if ":custom-model-deployment/" in deployment_arn:
        call(provider, "undeploy", lambda: bedrock.delete_custom_model_deployment(
            customModelDeploymentIdentifier=deployment_arn))
    else:
        call(provider, "undeploy", lambda: bedrock.delete_provisioned_model_throughput(
            provisionedModelId=deployment_arn))
