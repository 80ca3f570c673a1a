"""Fixtures for the OpenAI adapter tests: the shared respx fake of the OpenAI API."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest


def load_fake_api() -> None:
    """Import fakeopenai.py (next to this file) as the module ``fakeopenai``.

    Test directories are not packages (no __init__.py, importlib import mode), so the helper shared
    with tests/providers/azure is loaded by path, once.
    """
    if "fakeopenai" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("fakeopenai", Path(__file__).with_name("fakeopenai.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["fakeopenai"] = module
    spec.loader.exec_module(module)


load_fake_api()


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One plain httpx.Client for the adapters under test (respx intercepts it); building one per
    test would load the TLS trust store each time."""
    with httpx.Client() as client:
        yield client
