"""The shared provider contract, run against VertexProvider over the fake Vertex and GCS APIs."""

from __future__ import annotations

from tuneops.testing import ProviderContract


class TestVertexContract(ProviderContract):
    """Every contract guarantee holds for Vertex."""

    base_model = "gemini-2.5-flash"
