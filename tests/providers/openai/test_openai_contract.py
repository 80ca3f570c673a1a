"""The provider contract over OpenAIProvider, against a respx fake of the OpenAI API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import respx
from fakeopenai import FakeOpenAI, RespxHarness

from tuneops.provider import ProviderConfig
from tuneops.providers.openai import OpenAIProvider
from tuneops.providers.openai.status import STATUS_TABLE
from tuneops.testing import ProviderContract


class TestOpenAIContract(ProviderContract):
    """Every contract guarantee, over respx."""

    base_model = "gpt-4o-mini-2024-07-18"

    @pytest.fixture
    def harness(self, http: httpx.Client) -> Iterator[RespxHarness]:
        with respx.mock(assert_all_called=False) as router:
            api = FakeOpenAI(router, "https://api.openai.com/v1")
            provider = OpenAIProvider(ProviderConfig(env={"OPENAI_API_KEY": "sk-contract"}, http_client=http))
            yield RespxHarness(provider, api, dict(STATUS_TABLE))
            provider.close()
