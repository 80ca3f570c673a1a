"""The OpenAI adapter family: OpenAI, Azure OpenAI, and the local sandbox (all speak the same protocol)."""

from __future__ import annotations

from tuneops.providers.openai.adapter import OpenAIProvider
from tuneops.providers.openai.arm import AzureDeployment
from tuneops.providers.openai.azure import AzureOpenAIProvider
from tuneops.providers.openai.results import ModelInfo
from tuneops.providers.openai.sandbox import SandboxProvider

__all__ = ["AzureDeployment", "AzureOpenAIProvider", "ModelInfo", "OpenAIProvider", "SandboxProvider"]
