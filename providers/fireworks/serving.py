"""Fireworks serving contract: a fine-tuned (LoRA) model answers only from a dedicated deployment,
billed by the GPU-hour while it runs. The deployment id is chosen by the client (derived from the
run's deployment name), so a replayed deploy collides (409) and adopts the one that exists, and
``find_deployment`` is a GET of that id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.errors import PermanentProviderError, UnsupportedOperation
from tuneops.http import resource_id
from tuneops.provider import DeploymentStatus, DeployRequest, ProviderDeployment, map_status

# Deployment.state in fireworks-ai 1.2 (types/deployment.py).
DEPLOYMENT_STATES: dict[str, DeploymentStatus] = {
    "CREATING": DeploymentStatus.CREATING, "READY": DeploymentStatus.READY,
    "UPDATING": DeploymentStatus.READY,  # still serving while its settings change
    "DELETING": DeploymentStatus.DELETING, "DELETED": DeploymentStatus.GONE, "FAILED": DeploymentStatus.FAILED,
}


class FireworksServing:
    """deploy_model / find_deployment / get_deployment / delete_deployment over Fireworks deployments."""

    account: str
    api: Any

    def deploy_model(self, request: DeployRequest) -> ProviderDeployment:
        """A dedicated deployment named after the request (one replica at least, up to ``capacity``)."""
        if request.mode != "dedicated":
            raise UnsupportedOperation(f"fireworks serves fine-tuned models from a dedicated deployment only; "
                                       f"set [serve] mode = \"dedicated\" (got {request.mode!r})")
        dep = self.deploy(request.model_id, deployment_id=resource_id(request.name),  # type: ignore[attr-defined]
                          min_replicas=1, max_replicas=request.capacity)
        return self._served(dep.raw, request.name)

    def find_deployment(self, name: str) -> ProviderDeployment | None:
        """The deployment with the id this name maps to, unless it is gone."""
        try:
            raw = self.api.get(f"deployments/{resource_id(name)}", operation="find_deployment")
        except PermanentProviderError as exc:
            if exc.status == 404:
                return None
            raise
        found = self._served(raw, name)
        return None if found.status is DeploymentStatus.GONE else found

    def get_deployment(self, provider_deployment_id: str) -> ProviderDeployment:
        """The deployment's current state."""
        dep_id = provider_deployment_id.rsplit("/", 1)[-1]
        return self._served(self.api.get(f"deployments/{dep_id}", operation="get_deployment"), dep_id)

    def delete_deployment(self, provider_deployment_id: str) -> None:
        """Delete it (GPU-hours stop); one already gone is fine."""
        self.undeploy(provider_deployment_id)  # type: ignore[attr-defined]

    def _served(self, raw: Mapping[str, Any], name: str) -> ProviderDeployment:
        dep_name = str(raw.get("name") or f"accounts/{self.account}/deployments/{resource_id(name)}")
        model = str(raw.get("baseModel") or "")
        state = str(raw.get("state") or "")
        status = raw.get("status") or {}
        return ProviderDeployment(
            provider_deployment_id=dep_name, name=str(raw.get("displayName") or name),
            status=map_status(DEPLOYMENT_STATES, state or None), raw_status=state,
            endpoint=f"{model}#{dep_name}", mode="dedicated",
            hourly_cost_microusd=None,  # billed per GPU-hour by accelerator type: [serve] hourly_usd states it
            error_message=str(status.get("message") or state) if state == "FAILED" else None, raw=dict(raw))
