"""The OpenAI adapter family: OpenAI, Azure OpenAI, and the local sandbox (all speak the same protocol)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.providers.openai.adapter import OpenAIProvider
    from tuneops.providers.openai.arm import AzureDeployment
    from tuneops.providers.openai.azure import AzureOpenAIProvider
    from tuneops.providers.openai.results import ModelInfo
    from tuneops.providers.openai.sandbox import SandboxProvider

__all__ = ["AzureDeployment", "AzureOpenAIProvider", "ModelInfo", "OpenAIProvider", "SandboxProvider"]

# Loaded on first use: `providers list` imports only this package's capabilities module.
__getattr__ = exports(__name__, {"AzureDeployment": f"{__name__}.arm", "AzureOpenAIProvider": f"{__name__}.azure",
                                 "ModelInfo": f"{__name__}.results", "OpenAIProvider": f"{__name__}.adapter",
                                 "SandboxProvider": f"{__name__}.sandbox"})
