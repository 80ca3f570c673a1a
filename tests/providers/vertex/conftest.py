"""Fixtures for the Vertex adapter tests: the respx fake of Vertex + Cloud Storage, and the harness."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from tuneops.provider import ProviderConfig
from tuneops.providers.vertex import VertexProvider


def _load_fake() -> Any:
    """Import fakevertex.py (next to this file) as ``fakevertex``; test directories are not packages."""
    if "fakevertex" not in sys.modules:
        spec = importlib.util.spec_from_file_location("fakevertex", Path(__file__).with_name("fakevertex.py"))
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules["fakevertex"] = module
        spec.loader.exec_module(module)
    return sys.modules["fakevertex"]


fv = _load_fake()


@pytest.fixture(scope="session")
def vertex_http() -> Iterator[httpx.Client]:
    """One httpx.Client for every adapter under test (respx intercepts it; building one per test is slow)."""
    with httpx.Client() as client:
        yield client


@pytest.fixture
def vertex_api() -> Iterator[Any]:
    """The fake Vertex + GCS APIs; any request it does not know fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield fv.FakeVertex(router)


@pytest.fixture
def make_vertex(vertex_api: Any, vertex_http: httpx.Client) -> Callable[..., VertexProvider]:
    """Build VertexProviders wired to the fake (options and env may be overridden)."""

    def make(env: dict[str, str] | None = None, **options: Any) -> VertexProvider:
        return VertexProvider(ProviderConfig(
            options={"project": fv.PROJECT, "bucket": fv.BUCKET, **options},
            env={"GOOGLE_OAUTH_ACCESS_TOKEN": fv.TOKEN} if env is None else env,
            http_client=vertex_http))

    return make


@pytest.fixture
def harness(vertex_api: Any, make_vertex: Callable[..., VertexProvider]) -> Any:
    """The contract harness."""
    return fv.VertexHarness(make_vertex(), vertex_api)
