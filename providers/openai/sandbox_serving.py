"""Sandbox serving contract: the sandbox serves fine-tuned models directly, and also under a named
deployment (``PUT /v1/deployments/{name}``, like Azure's), so the serving lifecycle can be run end to end
over real HTTP, offline. Sandbox deployments are free: ``dedicated`` still counts as hourly hosting
for the spec-or-flag rule, at $0 an hour."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.errors import PermanentProviderError, UnsupportedOperation
from tuneops.provider import DeploymentStatus, DeployRequest, ProviderDeployment, map_status

STATES = {"creating": DeploymentStatus.CREATING, "ready": DeploymentStatus.READY,
          "failed": DeploymentStatus.FAILED}


class SandboxServing:
    """deploy_model / find_deployment / get_deployment / delete_deployment over sandbox deployments."""

    client: Any

    def deploy_model(self, request: DeployRequest) -> ProviderDeployment:
        """PUT the named deployment (the sandbox returns the existing one for a name it has)."""
        if request.mode not in ("on_demand", "dedicated"):
            raise UnsupportedOperation(f"the sandbox serves on_demand or dedicated, not {request.mode!r}")
        raw = self._call("deploy", lambda: self.client.put(  # type: ignore[attr-defined]
            f"/deployments/{request.name}", cast_to=object,
            body={"model": request.model_id, "mode": request.mode, "capacity": request.capacity}))
        return _served(raw)

    def find_deployment(self, name: str) -> ProviderDeployment | None:
        """The deployment with this name, if the sandbox has it."""
        try:
            return self.get_deployment(name)
        except PermanentProviderError as exc:
            if exc.status == 404:
                return None
            raise

    def get_deployment(self, provider_deployment_id: str) -> ProviderDeployment:
        """The deployment's current state."""
        name = provider_deployment_id.removeprefix("dep-")
        return _served(self._call("get_deployment", lambda: self.client.get(  # type: ignore[attr-defined]
            f"/deployments/{name}", cast_to=object)))

    def delete_deployment(self, provider_deployment_id: str) -> None:
        """Delete it; one already gone is fine."""
        name = provider_deployment_id.removeprefix("dep-")
        try:
            self._call("undeploy", lambda: self.client.delete(f"/deployments/{name}", cast_to=object))  # type: ignore[attr-defined]
        except PermanentProviderError as exc:
            if exc.status != 404:
                raise


def _served(raw: Mapping[str, Any]) -> ProviderDeployment:
    status = str(raw.get("status") or "")
    return ProviderDeployment(
        provider_deployment_id=str(raw["id"]), name=str(raw["name"]),
        status=map_status(STATES, status or None), raw_status=status, endpoint=str(raw["name"]),
        mode=str(raw.get("mode") or "on_demand"), hourly_cost_microusd=0, raw=dict(raw))
