"""AWS Bedrock model customization; boto3 is optional (the ``bedrock`` extra) and imported lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tuneops.lazy import exports

if TYPE_CHECKING:
    from tuneops.providers.bedrock.adapter import BedrockProvider
    from tuneops.providers.bedrock.serving import Deployment

__all__ = ["BedrockProvider", "Deployment"]

# Loaded on first use: `providers list` imports only this package's capabilities module.
__getattr__ = exports(__name__, {"BedrockProvider": f"{__name__}.adapter", "Deployment": f"{__name__}.serving"})
