"""Azure deployments through the ARM control plane: a fine-tuned Azure OpenAI model serves only once
it is deployed, and a deployment is billed by the hour while it exists.

``PUT``/``GET``/``DELETE https://management.azure.com/subscriptions/{sub}/resourceGroups/{rg}/providers/
Microsoft.CognitiveServices/accounts/{account}/deployments/{name}?api-version=...`` with an Entra
bearer token for the management audience. A PUT to the same name is idempotent, so a failed deploy
is merely transient (never ambiguous) and may be repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from tuneops.errors import TransientProviderError
from tuneops.providers.openai.errors import body_error, redact, retry_after_seconds, status_error

MANAGEMENT_URL = "https://management.azure.com"
# GA control-plane api-version; the default of the official azure-mgmt-cognitiveservices 14.1.0.
MANAGEMENT_API_VERSION = "2025-09-01"
# Not enforced: Azure adds SKUs; an unknown one is refused by ARM with its own message.
KNOWN_SKUS = ("Developer", "Standard", "GlobalStandard", "ProvisionedManaged")


@dataclass(frozen=True)
class AzureDeployment:
    """One deployment of a model on an Azure OpenAI resource, with what hosting it costs per hour."""

    name: str
    model_id: str
    sku: str
    capacity: int
    provisioning_state: str
    provider_deployment_id: str
    hourly_cost_microusd: int | None
    hourly_cost_note: str
    raw: Mapping[str, Any] = field(default_factory=dict)


def hourly_cost(options: Mapping[str, Any], sku: str) -> tuple[int | None, str]:
    """(micro-dollars per hour, where that figure came from); "unknown" unless the options state it."""
    value = options.get("hosting_cost_per_hour")
    if isinstance(value, Mapping):
        value = value.get(sku)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return round(value * 1_000_000), f"{value} USD/hour from options.azure.hosting_cost_per_hour"
    return None, ("unknown: hourly hosting is billed while the deployment exists; record the rate in "
                  "options.azure.hosting_cost_per_hour to have it tracked")


class ArmDeployments:
    """PUT/GET/DELETE of Cognitive Services deployments with a bearer token."""

    def __init__(self, http: Any, *, subscription_id: str, resource_group: str, account: str,
                 token: Callable[[], str], api_version: str = MANAGEMENT_API_VERSION,
                 base_url: str = MANAGEMENT_URL, provider: str = "azure"):
        self.http = http
        self.prefix = (f"{base_url.rstrip('/')}/subscriptions/{quote(subscription_id, safe='')}"
                       f"/resourceGroups/{quote(resource_group, safe='')}/providers/"
                       f"Microsoft.CognitiveServices/accounts/{quote(account, safe='')}/deployments")
        self.api_version = api_version
        self.token = token
        self.provider = provider

    def url(self, name: str) -> str:
        """The ARM URL of deployment ``name`` (without the api-version)."""
        return f"{self.prefix}/{quote(name, safe='')}"

    def put_body(self, model_id: str, *, sku: str, capacity: int, model_version: str) -> dict[str, Any]:
        """The PUT body for a deployment of ``model_id``."""
        return {"sku": {"name": sku, "capacity": capacity},
                "properties": {"model": {"format": "OpenAI", "name": model_id, "version": model_version}}}

    def put(self, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create or update the deployment; returns the ARM Deployment resource."""
        return self._send("PUT", "deploy", name, body) or {}

    def get(self, name: str) -> dict[str, Any]:
        """The ARM Deployment resource."""
        return self._send("GET", "deployment", name) or {}

    def delete(self, name: str) -> None:
        """Delete the deployment; a deployment that is already gone is not an error."""
        self._send("DELETE", "undeploy", name, missing_ok=True)

    def _send(self, method: str, operation: str, name: str, body: Mapping[str, Any] | None = None,
              *, missing_ok: bool = False) -> dict[str, Any] | None:
        import httpx

        token = self.token()
        headers = {"Authorization": f"Bearer {token}"}
        try:
            resp = self.http.request(method, self.url(name), params={"api-version": self.api_version},
                                     headers=headers, json=body)
        except httpx.TransportError as exc:
            raise TransientProviderError(redact(f"{type(exc).__name__}: {exc}", [token]),
                                         provider=self.provider, operation=operation) from None
        if resp.status_code == 404 and missing_ok:
            return None
        if resp.status_code >= 400:
            try:
                payload = resp.json()
            except ValueError:
                payload = None
            code, message = body_error(payload, resp.text[:500] or resp.reason_phrase)
            raise status_error(resp.status_code, code, redact(message, [token]), provider=self.provider,
                               operation=operation, retry_after=retry_after_seconds(resp.headers))
        if not resp.content:
            return None
        return resp.json()


def deployment_record(raw: Mapping[str, Any], options: Mapping[str, Any], *, name: str, model_id: str,
                      sku: str, capacity: int) -> AzureDeployment:
    """An AzureDeployment from ARM's answer (falling back to what was asked for)."""
    props = raw.get("properties") or {}
    sku_raw = raw.get("sku") or {}
    sku_name = str(sku_raw.get("name") or sku)
    cost, note = hourly_cost(options, sku_name)
    return AzureDeployment(
        name=str(raw.get("name") or name),
        model_id=str((props.get("model") or {}).get("name") or model_id),
        sku=sku_name,
        capacity=int(sku_raw.get("capacity") or capacity),
        provisioning_state=str(props.get("provisioningState") or "Unknown"),
        provider_deployment_id=str(raw.get("id") or ""),
        hourly_cost_microusd=cost,
        hourly_cost_note=note,
        raw=dict(raw),
    )

