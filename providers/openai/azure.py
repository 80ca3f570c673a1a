"""AzureOpenAIProvider: Azure OpenAI fine-tuning, the OpenAI adapter with Azure's endpoint, auth,
model names and limits, plus the deployment step a fine-tuned model needs before it can serve.

Two API styles: the v1 API (``{endpoint}/openai/v1/``, no api-version, the plain OpenAI client as
Microsoft documents it) by default or when api_version is "v1"; a dated api-version
(``OPENAI_API_VERSION`` / ``options.azure.api_version``) through the SDK's AzureOpenAI client.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlsplit

from tuneops.basemodels import TunableModel
from tuneops.errors import MissingCredential, PermanentProviderError, TransientProviderError, UnsupportedOperation
from tuneops.options import ProviderOptions
from tuneops.provider import Capabilities, CreateRequest, ProviderConfig, RunStatus
from tuneops.providers.openai.adapter import OpenAIProvider
from tuneops.providers.openai.arm import (
    MANAGEMENT_API_VERSION,
    MANAGEMENT_URL,
    ArmDeployments,
    AzureDeployment,
    deployment_record,
)
from tuneops.providers.openai.capabilities import AZURE_CAPABILITIES
from tuneops.providers.openai.models import AZURE_MODELS
from tuneops.providers.openai.options import AZURE_CONNECTION, AzureOptions
from tuneops.providers.openai.serving import AzureServing
from tuneops.providers.openai.status import STATUS_TABLE

# Older Azure api-versions reported created/pending (REST reference 2023-12-01-preview; unconfirmed
# on v1, where the OpenAI values apply). Both are accepted.
AZURE_STATUS_TABLE: dict[str, RunStatus] = {
    **STATUS_TABLE,
    "created": RunStatus.PENDING,
    "pending": RunStatus.PENDING,
}

# Azure spells GPT-3.5 without the dot; the other fine-tunable names match OpenAI's.
AZURE_MODEL_ALIASES = {"gpt-3.5-turbo": "gpt-35-turbo"}

V1 = "v1"
# Azure suffixes: at most 40 characters of [a-zA-Z0-9-_] on every API style (the Azure reference).
AZURE_MAX_SUFFIX = 40
_SUFFIX_OK = re.compile(r"[A-Za-z0-9_-]*")
# Azure files are imported asynchronously; a job created before "processed" is refused.
_FILE_READY = "processed"
_FILE_FAILED = frozenset({"error", "deleted", "deleting"})


def azure_model_name(base_model: str) -> str:
    """The Azure name of an OpenAI base model (``gpt-3.5-turbo-0125`` -> ``gpt-35-turbo-0125``)."""
    for openai_name, azure_name in AZURE_MODEL_ALIASES.items():
        if base_model == openai_name or base_model.startswith(openai_name + "-"):
            return azure_name + base_model[len(openai_name):]
    return base_model


def account_from_endpoint(endpoint: str) -> str | None:
    """The resource (account) name in ``https://<account>.openai.azure.com/``, if it is there."""
    host = urlsplit(endpoint).hostname or ""
    if host.endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
        return host.split(".", 1)[0]
    return None


class AzureOpenAIProvider(AzureServing, OpenAIProvider):
    """Azure OpenAI fine-tuning; ``deploy``/``undeploy`` manage the deployment a model serves from."""

    name: ClassVar[str] = "azure"
    base_models: ClassVar[tuple[TunableModel, ...]] = AZURE_MODELS
    options_schema: ClassVar[type[ProviderOptions]] = AzureOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = AZURE_CONNECTION
    capabilities: ClassVar[Capabilities] = AZURE_CAPABILITIES
    status_table: ClassVar[Mapping[str, RunStatus]] = AZURE_STATUS_TABLE

    def _make_client(self, config: ProviderConfig) -> Any:
        import openai

        endpoint = self.options.get("endpoint") or config.env.get("AZURE_OPENAI_ENDPOINT")
        if not endpoint:
            raise MissingCredential(self.name, ["AZURE_OPENAI_ENDPOINT"],
                                    "Or set endpoint = \"https://<resource>.openai.azure.com\" under "
                                    "[providers.azure] in ~/.config/tuneops/config.toml (never in a job spec).")
        self.endpoint = str(endpoint).rstrip("/")
        version = self.options.get("api_version") or config.env.get("OPENAI_API_VERSION") or V1
        self.api_version = str(version)
        self.max_suffix = AZURE_MAX_SUFFIX
        provider = self.options.get("azure_ad_token_provider")
        token = None if provider else config.env.get("AZURE_OPENAI_AD_TOKEN")
        key = None
        if provider is None and not token:
            key = config.credential(self.name, "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_AD_TOKEN",
                                    hint="Or pass options[\"azure_ad_token_provider\"] (a callable) "
                                         "when using tuneops as a library.")
        if provider is not None and not callable(provider):
            raise UnsupportedOperation("options.azure.azure_ad_token_provider must be a callable returning "
                                       "an Entra ID token")
        self._auth = "token provider" if provider else ("AZURE_OPENAI_AD_TOKEN" if token else
                                                        "AZURE_OPENAI_API_KEY")
        self._secrets += [s for s in (key, token) if s]
        http = self._http(config)
        if self.api_version == V1:
            # Microsoft documents the plain OpenAI client for v1: the key, a token, or a token
            # provider all go in api_key (sent as a bearer token).
            self.base_url = f"{self.endpoint}/openai/v1/"
            return openai.OpenAI(api_key=provider or token or key, base_url=self.base_url,
                                 max_retries=0, http_client=http)
        self.base_url = f"{self.endpoint}/openai"
        auth: dict[str, Any] = ({"azure_ad_token_provider": provider} if provider else
                                {"azure_ad_token": token} if token else {"api_key": key})
        return openai.AzureOpenAI(azure_endpoint=self.endpoint, api_version=self.api_version,
                                  max_retries=0, http_client=http, **auth)

    def _model_name(self, base_model: str) -> str:
        return azure_model_name(base_model)

    def create_body(self, request: CreateRequest) -> dict[str, Any]:
        """The OpenAI-shaped body, refusing a suffix with characters Azure does not allow."""
        if request.suffix and not _SUFFIX_OK.fullmatch(request.suffix):
            raise UnsupportedOperation(f"azure: model.suffix {request.suffix!r} may hold only letters, digits, "
                                       "'-' and '_' (at most 40); change model.suffix")
        return super().create_body(request)

    def _credential_source(self) -> str:
        return self._auth

    def _after_upload(self, file: Any) -> Any:
        """Wait until Azure has imported the file; creating a job earlier is refused."""
        wait_for = float(self.options.get("file_wait_seconds", 600))
        every = float(self.options.get("file_poll_seconds", 2))
        deadline = time.monotonic() + wait_for
        while str(getattr(file, "status", _FILE_READY)) != _FILE_READY:
            status = str(file.status)
            if status in _FILE_FAILED:
                raise PermanentProviderError(
                    f"file {file.id} is {status}: {getattr(file, 'status_details', None) or 'no details'}",
                    provider=self.name, operation="upload", code=f"file_{status}")
            if time.monotonic() >= deadline:
                # Retrying the upload re-sends the bytes; the orchestrator's policy decides.
                raise TransientProviderError(f"file {file.id} still {status} after {wait_for:g}s",
                                             provider=self.name, operation="upload")
            time.sleep(every)
            file = self._call("upload", lambda f=file: self.client.files.retrieve(f.id))
        return file

    # -- deployments -----------------------------------------------------------------------------

    def _arm(self) -> ArmDeployments:
        missing = [k for k in ("subscription_id", "resource_group") if not self.options.get(k)]
        account = self.options.get("account") or account_from_endpoint(self.endpoint)
        if missing or not account:
            need = [*missing, *([] if account else ["account"])]
            raise UnsupportedOperation(
                f"azure deployments need {', '.join(f'options.azure.{k}' for k in need)} "
                "(the resource's subscription, resource group and account name)")
        provider = self.options.get("management_token_provider")
        if provider is not None and not callable(provider):
            raise UnsupportedOperation("options.azure.management_token_provider must be a callable")
        if provider is None:
            # Checked before any call; the token is for https://management.azure.com (not the data plane).
            value = self.config.credential(self.name, "AZURE_MANAGEMENT_TOKEN", hint=(
                "An Entra ID token for https://management.azure.com, e.g. from "
                "`az account get-access-token --resource https://management.azure.com`."))
            self._secrets.append(value)
            provider = lambda: value  # noqa: E731
        return ArmDeployments(
            self._arm_http(), subscription_id=str(self.options["subscription_id"]),
            resource_group=str(self.options["resource_group"]), account=str(account), token=provider,
            api_version=str(self.options.get("management_api_version", MANAGEMENT_API_VERSION)),
            base_url=str(self.options.get("management_url", MANAGEMENT_URL)), provider=self.name)

    def _arm_http(self) -> Any:
        import httpx

        if self.config.http_client is not None:
            return self.config.http_client
        if getattr(self, "_own_arm_http", None) is None:
            self._own_arm_http = httpx.Client(timeout=httpx.Timeout(60.0, connect=10.0))
        return self._own_arm_http

    def deploy(self, model_id: str, *, name: str | None = None, sku: str = "Standard", capacity: int = 1,
               model_version: str = "1") -> AzureDeployment:
        """Create (or update) a deployment serving ``model_id``; ``infer`` then takes its name."""
        name = name or deployment_name(model_id)
        arm = self._arm()
        body = arm.put_body(model_id, sku=sku, capacity=capacity, model_version=model_version)
        raw = arm.put(name, body)
        return deployment_record(raw, self.options, name=name, model_id=model_id, sku=sku, capacity=capacity)

    def deployment(self, name: str) -> AzureDeployment:
        """A deployment's current state (``provisioning_state`` becomes "Succeeded" when it serves)."""
        raw = self._arm().get(name)
        sku = (raw.get("sku") or {}).get("name") or "unknown"
        return deployment_record(raw, self.options, name=name, model_id="", sku=sku, capacity=0)

    def undeploy(self, deployment: str | AzureDeployment) -> None:
        """Delete a deployment (hosting charges stop); one that is already gone is fine."""
        name = deployment.name if isinstance(deployment, AzureDeployment) else deployment
        self._arm().delete(name)

    def check(self) -> list[tuple[bool, str]]:
        """Data-plane credentials and one cheap call, plus whether deployments are configured."""
        results = super().check()
        wanted = ("subscription_id", "resource_group")
        given = [k for k in wanted if self.options.get(k)]
        token = self.options.get("management_token_provider") or self.config.env.get("AZURE_MANAGEMENT_TOKEN")
        if not given and not token:
            # Training works without them; only serving a fine-tuned model needs a deployment.
            results.append((True, "deployments not configured: set options.azure.subscription_id, "
                                  "options.azure.resource_group and AZURE_MANAGEMENT_TOKEN before deploying"))
        elif len(given) < len(wanted) or not token:
            missing = [f"options.azure.{k}" for k in wanted if k not in given]
            missing += [] if token else ["AZURE_MANAGEMENT_TOKEN"]
            results.append((False, f"deployments half configured: missing {', '.join(missing)}"))
        else:
            results.append((True, "deployments configured (subscription, resource group, management token)"))
        return results

    def close(self) -> None:
        """Close the HTTP clients this adapter created."""
        super().close()
        own = getattr(self, "_own_arm_http", None)
        if own is not None:
            own.close()


_NAME_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def deployment_name(model_id: str) -> str:
    """A valid deployment name derived from a model id (letters, digits, ``_.-``; at most 64)."""
    return _NAME_BAD.sub("-", model_id).strip("-.")[:64] or "tuneops-model"

