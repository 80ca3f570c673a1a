"""Azure serving contract: a fine-tuned model answers only from a deployment made through ARM, under
the name tuneops derives from the run. A PUT to that name is idempotent, so a replayed deploy updates
the same deployment, and ``find_deployment`` is a GET of the name.

Modes: ``on_demand`` is the Developer tier (no hosting fee, billed per token, deleted by Azure after
24 hours: made for evaluating a model); ``dedicated`` is a Standard deployment and ``provisioned`` a
ProvisionedManaged one, both billed by the hour while they exist (their price comes from [serve]
hourly_usd or options.azure.hosting_cost_per_hour).
"""

from __future__ import annotations

from typing import Any

from tuneops.errors import PermanentProviderError, UnsupportedOperation
from tuneops.provider import DeploymentStatus, DeployRequest, ProviderDeployment, map_status
from tuneops.providers.openai.arm import AzureDeployment, hourly_cost

MODE_SKUS = {"on_demand": "Developer", "dedicated": "Standard", "provisioned": "ProvisionedManaged"}
# ARM provisioningState of a Cognitive Services deployment (azure-mgmt-cognitiveservices 14.1).
PROVISIONING_STATES: dict[str, DeploymentStatus] = {
    "Accepted": DeploymentStatus.CREATING, "Creating": DeploymentStatus.CREATING,
    "Moving": DeploymentStatus.CREATING, "Succeeded": DeploymentStatus.READY,
    "Failed": DeploymentStatus.FAILED, "Canceled": DeploymentStatus.FAILED, "Disabled": DeploymentStatus.FAILED,
    "Deleting": DeploymentStatus.DELETING,
}


class AzureServing:
    """deploy_model / find_deployment / get_deployment / delete_deployment over ARM deployments."""

    options: dict[str, Any]

    def deploy_model(self, request: DeployRequest) -> ProviderDeployment:
        """PUT the named deployment with the SKU of the request's mode."""
        sku = self._sku(request.mode)
        dep = self.deploy(request.model_id, name=request.name, sku=sku, capacity=request.capacity)  # type: ignore[attr-defined]
        return self._served(dep, request.mode)

    def hosting_price(self, request: DeployRequest) -> int | None:
        """The hourly price options.azure.hosting_cost_per_hour gives for the mode's SKU (x capacity)."""
        cost, _ = hourly_cost(self.options, self._sku(request.mode))
        return None if cost is None else cost * request.capacity

    def find_deployment(self, name: str) -> ProviderDeployment | None:
        """The deployment with this name, if ARM has it."""
        try:
            dep = self.deployment(name)  # type: ignore[attr-defined]
        except PermanentProviderError as exc:
            if exc.status == 404:
                return None
            raise
        return self._served(dep, _mode_of(dep.sku))

    def get_deployment(self, provider_deployment_id: str) -> ProviderDeployment:
        """The deployment's current state (by its ARM id or its name)."""
        dep = self.deployment(provider_deployment_id.rsplit("/", 1)[-1])  # type: ignore[attr-defined]
        return self._served(dep, _mode_of(dep.sku))

    def delete_deployment(self, provider_deployment_id: str) -> None:
        """DELETE it (hosting charges stop); one already gone is fine."""
        self.undeploy(provider_deployment_id.rsplit("/", 1)[-1])  # type: ignore[attr-defined]

    def _sku(self, mode: str) -> str:
        if mode not in MODE_SKUS:
            raise UnsupportedOperation(f"azure cannot serve in mode {mode!r}; use one of {', '.join(MODE_SKUS)}")
        return MODE_SKUS[mode]

    def _served(self, dep: AzureDeployment, mode: str) -> ProviderDeployment:
        state = dep.provisioning_state
        hourly = 0 if dep.sku == "Developer" else dep.hourly_cost_microusd
        return ProviderDeployment(
            provider_deployment_id=dep.provider_deployment_id or dep.name, name=dep.name,
            status=map_status(PROVISIONING_STATES, state), raw_status=state,
            endpoint=dep.name,  # chat completions take the deployment name as the model
            mode=mode, hourly_cost_microusd=hourly,
            error_message=f"ARM provisioningState {state}" if state in ("Failed", "Canceled", "Disabled") else None,
            raw=dep.raw)


def _mode_of(sku: str) -> str:
    return next((m for m, s in MODE_SKUS.items() if s == sku), "dedicated")
