"""Importing the OpenAI adapter family pulls in no other provider's SDK (and not even openai until used)."""

from __future__ import annotations

import json
import subprocess
import sys

OTHER_SDKS = {"boto3", "botocore", "google", "together", "fireworks", "mistralai", "cohere", "vertexai"}


def _modules(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\n"
                          "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_importing_the_package_loads_no_sdk_at_all() -> None:
    loaded = _modules("import tuneops.providers.openai")
    assert not loaded & (OTHER_SDKS | {"openai"})


def test_building_openai_and_azure_adapters_loads_no_other_providers_sdk() -> None:
    loaded = _modules(
        "from tuneops.provider import ProviderConfig\n"
        "from tuneops.providers.openai import OpenAIProvider, AzureOpenAIProvider\n"
        "OpenAIProvider(ProviderConfig(env={'OPENAI_API_KEY': 'k'})).close()\n"
        "AzureOpenAIProvider(ProviderConfig(options={'endpoint': 'https://r.openai.azure.com'},"
        " env={'AZURE_OPENAI_API_KEY': 'k'})).close()")
    assert "openai" in loaded and not loaded & OTHER_SDKS
