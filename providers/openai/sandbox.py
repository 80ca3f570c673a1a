"""SandboxProvider: the OpenAI adapter pointed at ``tuneops sandbox serve`` (a local stand-in, not an LLM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tuneops.basemodels import TunableModel
from tuneops.options import ProviderOptions
from tuneops.provider import Capabilities, ProviderConfig
from tuneops.providers.openai.adapter import OpenAIProvider
from tuneops.providers.openai.capabilities import SANDBOX_CAPABILITIES
from tuneops.providers.openai.models import SANDBOX_MODELS
from tuneops.providers.openai.options import SANDBOX_CONNECTION, SandboxOptions
from tuneops.providers.openai.sandbox_serving import SandboxServing

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8765/v1"



class SandboxProvider(SandboxServing, OpenAIProvider):
    """The OpenAI adapter pointed at the local sandbox; needs no key."""

    name: ClassVar[str] = "sandbox"
    base_models: ClassVar[tuple[TunableModel, ...]] = SANDBOX_MODELS
    options_schema: ClassVar[type[ProviderOptions]] = SandboxOptions
    connection_settings: ClassVar[Mapping[str, str | None]] = SANDBOX_CONNECTION
    capabilities: ClassVar[Capabilities] = SANDBOX_CAPABILITIES

    def _make_client(self, config: ProviderConfig) -> Any:
        import openai

        self.base_url = (config.base_url or self.options.get("base_url")
                         or config.env.get("TUNEOPS_SANDBOX_URL") or DEFAULT_SANDBOX_URL)
        return openai.OpenAI(api_key="sandbox", base_url=self.base_url, max_retries=0,
                             http_client=self._http(config))

    def _credential_source(self) -> str:
        return "none needed"
