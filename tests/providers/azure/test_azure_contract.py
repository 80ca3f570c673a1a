"""The provider contract over AzureOpenAIProvider, in both API styles, against a respx fake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
from fakearm import ARM_TOKEN, FakeArm
from fakeopenai import FakeOpenAI, RespxHarness

from tuneops.provider import ProviderConfig
from tuneops.providers.openai import AzureOpenAIProvider
from tuneops.providers.openai.azure import AZURE_STATUS_TABLE
from tuneops.testing import ProviderContract

ENDPOINT = "https://res.openai.azure.com"


class TestAzureContract(ProviderContract):
    """Every contract guarantee, over the v1 API and over a dated api-version."""

    base_model = "gpt-4o-mini-2024-07-18"
    served_model = "gpt-4o-mini-2024-07-18.ft-0e208cf33a6a466994aff31a08aba678"

    @pytest.fixture(params=["v1", "2025-04-01-preview"])
    def harness(self, request: pytest.FixtureRequest, http: httpx.Client) -> Iterator[RespxHarness]:
        style = request.param
        fixtures = Path(__file__).with_name("fixtures")
        with respx.mock(assert_all_called=False) as router:
            if style == "v1":
                api = FakeOpenAI(router, f"{ENDPOINT}/openai/v1", fixtures=fixtures)
            else:
                api = FakeOpenAI(router, f"{ENDPOINT}/openai", fixtures=fixtures, query={"api-version": style},
                                 expect_auth=lambda r: r.headers.get("api-key") == "azure-contract-key")
            FakeArm(router)
            options = {"endpoint": ENDPOINT, "api_version": style, "file_poll_seconds": 0,
                       "subscription_id": "sub-1", "resource_group": "rg-tuneops"}
            provider = AzureOpenAIProvider(ProviderConfig(
                options=options, http_client=http,
                env={"AZURE_OPENAI_API_KEY": "azure-contract-key", "AZURE_MANAGEMENT_TOKEN": ARM_TOKEN}))
            yield RespxHarness(provider, api, dict(AZURE_STATUS_TABLE))
            provider.close()
