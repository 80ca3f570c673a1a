"""SandboxProvider: the OpenAI adapter pointed at ``tuneops sandbox serve`` (a local stand-in, not an LLM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tuneops.basemodels import TunableModel
from tuneops.options import ProviderOptions
from tuneops.provider import Capabilities, HyperparameterLimits, ProviderConfig
from tuneops.providers.openai.adapter import OpenAIProvider
from tuneops.providers.openai.models import SANDBOX_MODELS
from tuneops.providers.openai.options import SANDBOX_CONNECTION, SandboxOptions
from tuneops.providers.openai.sandbox_serving import SandboxServing
from tuneops.providers.openai.uploads import MAX_UPLOAD_BYTES

DEFAULT_SANDBOX_URL = "http://127.0.0.1:8765/v1"

SANDBOX_CAPABILITIES = Capabilities(
    methods=frozenset({"sft", "dpo"}),
    staging="file_id",
    data_format="openai_chat",
    can_cancel=True,
    can_pause=True,
    can_resume=True,
    lists_jobs=True,
    max_upload_bytes=MAX_UPLOAD_BYTES,
    min_examples=10,
    learning_rate="multiplier",
    credentials=(),
    models=("sandbox-mini", "sandbox-legacy"),
    serve_modes=("on_demand", "dedicated"),  # optional: its models also answer directly
    notes="local stand-in for offline use and tests; nearest-neighbour learner, not an LLM",
    limits=HyperparameterLimits(seed=(0, 2**31 - 1), epochs=(1, 50), batch_size=(1, 256),
                                learning_rate_multiplier=(1e-6, 10.0), min_validation_examples=10,
                                source="the sandbox's own request and file checks"),
)


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
