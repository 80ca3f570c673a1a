"""The shared provider contract, run against BedrockProvider over moto's Bedrock and S3 mocks."""

from __future__ import annotations

from tuneops.testing import ProviderContract


class TestBedrockContract(ProviderContract):
    """Every contract guarantee holds for Bedrock."""

    base_model = "amazon.nova-micro-v1:0:128k"
    served_model = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/c0ffee123456"
