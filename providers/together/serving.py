"""Together serving contract: LoRA fine-tunes of some base models answer serverless (per token); a
full fine-tune, or any model on reserved hardware, is served from a dedicated endpoint billed by the
minute while it runs (``POST /v1/endpoints``, docs.together.ai/reference/createendpoint).

Together assigns the endpoint's id and name itself, so tuneops puts its deployment name in
``display_name`` and ``find_deployment`` lists the account's dedicated endpoints and reads each
one's display name: a replayed or interrupted deploy adopts the endpoint instead of starting another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.errors import PermanentProviderError, UnsupportedOperation
from tuneops.provider import DeploymentStatus, DeployRequest, ProviderDeployment, map_status

# DedicatedEndpoint.state (Together API reference, v1 endpoints).
ENDPOINT_STATES: dict[str, DeploymentStatus] = {
    "PENDING": DeploymentStatus.CREATING, "STARTING": DeploymentStatus.CREATING,
    "STARTED": DeploymentStatus.READY, "STOPPING": DeploymentStatus.DELETING,
    "STOPPED": DeploymentStatus.GONE, "ERROR": DeploymentStatus.FAILED,
}


class TogetherServing:
    """deploy_model / find_deployment / get_deployment / delete_deployment over dedicated endpoints."""

    api: Any

    def needs_deployment_for(self, options: Mapping[str, Any], base_model: str) -> bool:
        """A full fine-tune has no serverless home; LoRA adapters of Together's bases answer serverless."""
        return str(options.get("training_type", "lora")).lower() == "full"

    def deploy_model(self, request: DeployRequest) -> ProviderDeployment:
        """The dedicated endpoint with this display name, created (and started) if there is none."""
        if request.mode != "dedicated":
            raise UnsupportedOperation(f"together hosts fine-tuned models on dedicated endpoints (mode "
                                       f"\"dedicated\"), not {request.mode!r}; LoRA models of supported bases "
                                       "answer serverless without a deployment ([serve] mode = \"none\")")
        if not request.hardware:
            raise UnsupportedOperation("together dedicated endpoints need hardware: set [serve] hardware, e.g. "
                                       "\"1x_nvidia_h100_80gb_sxm\" (GET /v1/hardware lists what fits the model)")
        found = self.find_deployment(request.name)
        if found is not None:
            return found
        raw = self.api.post("endpoints", operation="deploy", create=True, json={
            "model": request.model_id, "hardware": request.hardware, "display_name": request.name,
            "autoscaling": {"min_replicas": 1, "max_replicas": request.capacity}, "state": "STARTED"})
        return _served(raw)

    def find_deployment(self, name: str) -> ProviderDeployment | None:
        """The live dedicated endpoint whose display name is ``name``."""
        listed = self.api.get("endpoints", operation="find_deployment", params={"type": "dedicated", "mine": "true"})
        for item in listed.get("data") or []:
            if str(item.get("state")) == "STOPPED":
                continue
            endpoint = self.api.get(f"endpoints/{item['id']}", operation="find_deployment")
            if endpoint.get("display_name") == name:
                return _served(endpoint)
        return None

    def get_deployment(self, provider_deployment_id: str) -> ProviderDeployment:
        """The endpoint's current state."""
        return _served(self.api.get(f"endpoints/{provider_deployment_id}", operation="get_deployment"))

    def delete_deployment(self, provider_deployment_id: str) -> None:
        """Delete the endpoint (billing stops); one already gone is fine."""
        try:
            self.api.request("DELETE", f"endpoints/{provider_deployment_id}", operation="undeploy")
        except PermanentProviderError as exc:
            if exc.status != 404:
                raise


def _served(raw: Mapping[str, Any]) -> ProviderDeployment:
    state = str(raw.get("state") or "")
    return ProviderDeployment(
        provider_deployment_id=str(raw["id"]), name=str(raw.get("display_name") or raw["id"]),
        status=map_status(ENDPOINT_STATES, state or None), raw_status=state,
        endpoint=str(raw.get("name") or raw["id"]),  # chat completions take the endpoint's name as the model
        mode="dedicated", hourly_cost_microusd=None,  # billed per minute by hardware: [serve] hourly_usd states it
        error_message=f"endpoint state {state}" if state == "ERROR" else None, raw=dict(raw))
