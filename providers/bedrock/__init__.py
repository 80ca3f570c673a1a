"""AWS Bedrock model customization; boto3 is optional (the ``bedrock`` extra) and imported lazily."""

from __future__ import annotations

from tuneops.providers.bedrock.adapter import BedrockProvider
from tuneops.providers.bedrock.serving import Deployment

__all__ = ["BedrockProvider", "Deployment"]
