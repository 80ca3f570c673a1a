"""Fixtures for the Bedrock adapter tests: moto's Bedrock and S3 mocks, adapters wired to them, the harness."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tuneops.provider import ProviderConfig
from tuneops.providers.bedrock import BedrockProvider
from tuneops.providers.bedrock.session import client, session


def _load_fake() -> Any:
    """Import fakebedrock.py (next to this file) as ``fakebedrock``; test directories are not packages."""
    if "fakebedrock" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fakebedrock", Path(__file__).with_name("fakebedrock.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["fakebedrock"] = module
        spec.loader.exec_module(module)
    return sys.modules["fakebedrock"]


fb = _load_fake()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's Bedrock + S3 with the staging bucket, and job sub-statuses reported when a test sets them."""
    from moto import mock_aws
    from moto.bedrock.models import ModelCustomizationJob

    plain = ModelCustomizationJob.to_dict

    def with_details(self: Any) -> dict[str, Any]:
        data = plain(self)
        if getattr(self, "status_details", None):
            data["statusDetails"] = self.status_details
        return data

    monkeypatch.setattr(ModelCustomizationJob, "to_dict", with_details)
    with mock_aws():
        admin = session(ProviderConfig(env=fb.ENV), {}, "bedrock")  # shares the adapters' model loader
        client(admin, "s3").create_bucket(Bucket=fb.BUCKET)
        yield


@pytest.fixture
def make_bedrock(aws: None) -> Iterator[Callable[..., BedrockProvider]]:
    """Build BedrockProviders against moto (options and env may be overridden)."""
    built: list[BedrockProvider] = []

    def make(env: dict[str, str] | None = None, **options: Any) -> BedrockProvider:
        provider = BedrockProvider(ProviderConfig(options={**fb.OPTIONS, **options},
                                                  env=dict(fb.ENV) if env is None else env))
        built.append(provider)
        return provider

    yield make
    for provider in built:
        provider.close()


@pytest.fixture
def bedrock(make_bedrock: Callable[..., BedrockProvider]) -> BedrockProvider:
    """One adapter against moto."""
    return make_bedrock()


@pytest.fixture
def calls(bedrock: BedrockProvider) -> Any:
    """The Bedrock and S3 calls ``bedrock`` makes, with a queue of failures to inject."""
    return fb.watch(bedrock)


@pytest.fixture
def harness(bedrock: BedrockProvider, calls: Any) -> Any:
    """The contract harness (with deployments, which moto lacks, answered by the serving fake)."""
    fb.FakeServing().install(bedrock)
    return fb.BedrockHarness(bedrock, calls)
