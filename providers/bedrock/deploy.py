"""Bedrock serving contract: ``on_demand`` is a custom model deployment (billed per token, offered for
some models and regions), ``provisioned`` a Provisioned Throughput (billed by the hour per model unit).
Both are created under the run's deployment name with that name as the client request token, so a
replayed deploy returns the same resource, and ``find_deployment`` looks the name up (both kinds
accept a name where they take an identifier)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.errors import PermanentProviderError, UnsupportedOperation
from tuneops.provider import DeploymentStatus, DeployRequest, ProviderDeployment, map_status
from tuneops.providers.bedrock import serving
from tuneops.providers.bedrock.errors import call

STATUSES: dict[str, DeploymentStatus] = {
    "Creating": DeploymentStatus.CREATING, "Active": DeploymentStatus.READY,  # custom model deployment
    "InService": DeploymentStatus.READY, "Updating": DeploymentStatus.READY,  # provisioned throughput
    "Failed": DeploymentStatus.FAILED,
}


class BedrockServing:
    """deploy_model / find_deployment / get_deployment / delete_deployment over Bedrock serving resources."""

    name: str
    options: dict[str, Any]
    bedrock: Any

    def deploy_model(self, request: DeployRequest) -> ProviderDeployment:
        """On-demand deployment or Provisioned Throughput named after the request."""
        if request.mode not in ("on_demand", "provisioned"):
            raise UnsupportedOperation(f"bedrock serves custom models on_demand or provisioned, not {request.mode!r}")
        provisioned = request.mode == "provisioned"
        dep = serving.deploy(self.bedrock, request.model_id, self.options, self.name, provisioned=provisioned,
                             name=request.name, units=request.capacity)
        return self.get_deployment(dep.model_id)

    def hosting_price(self, request: DeployRequest) -> int | None:
        """options.bedrock.provisioned_hourly_usd x model units; 0 on demand."""
        if request.mode != "provisioned":
            return 0
        return serving.hourly_cost_microusd(self.options, request.capacity)

    def find_deployment(self, name: str) -> ProviderDeployment | None:
        """The on-demand deployment or Provisioned Throughput with this name, if either exists."""
        for kind in ("on_demand", "provisioned"):
            try:
                return self._get(kind, name)
            except PermanentProviderError as exc:
                if exc.code != "ResourceNotFoundException" and exc.status != 404:
                    raise
        return None

    def get_deployment(self, provider_deployment_id: str) -> ProviderDeployment:
        """The deployment's current state, by its ARN."""
        kind = "on_demand" if ":custom-model-deployment/" in provider_deployment_id else "provisioned"
        return self._get(kind, provider_deployment_id)

    def delete_deployment(self, provider_deployment_id: str) -> None:
        """Delete it (Provisioned Throughput billing stops); one already gone is fine."""
        try:
            serving.undeploy(self.bedrock, provider_deployment_id, self.name)
        except PermanentProviderError as exc:
            if exc.code != "ResourceNotFoundException" and exc.status != 404:
                raise

    def _get(self, kind: str, identifier: str) -> ProviderDeployment:
        if kind == "on_demand":
            raw = call(self.name, "get_deployment", lambda: self.bedrock.get_custom_model_deployment(
                customModelDeploymentIdentifier=identifier))
            arn, name, hourly = raw["customModelDeploymentArn"], raw["modelDeploymentName"], 0
        else:
            raw = call(self.name, "get_deployment", lambda: self.bedrock.get_provisioned_model_throughput(
                provisionedModelId=identifier))
            arn, name = raw["provisionedModelArn"], raw["provisionedModelName"]
            hourly = serving.hourly_cost_microusd(self.options, int(raw.get("modelUnits") or 1))
        status = str(raw.get("status") or "")
        return ProviderDeployment(
            provider_deployment_id=arn, name=name, status=map_status(STATUSES, status or None), raw_status=status,
            endpoint=arn,  # Converse takes the deployment's ARN as modelId
            mode=kind, hourly_cost_microusd=hourly, error_message=raw.get("failureMessage"), raw=_plain(raw))


def _plain(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in raw.items() if k != "ResponseMetadata"}
