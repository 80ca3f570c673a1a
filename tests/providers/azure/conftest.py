"""Fixtures for the Azure OpenAI tests: the respx fake of the OpenAI API shared with tests/providers/openai."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

_SHARED = Path(__file__).resolve().parents[1] / "openai" / "fakeopenai.py"


def load_fake_api(name: str = "fakeopenai", path: Path = _SHARED) -> None:
    """Import ../openai/fakeopenai.py as the module ``fakeopenai`` (test dirs are not packages)."""
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)


load_fake_api()
load_fake_api("fakearm", Path(__file__).with_name("fakearm.py"))


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One plain httpx.Client for the adapters under test (respx intercepts it); building one per
    test would load the TLS trust store each time."""
    with httpx.Client() as client:
        yield client
