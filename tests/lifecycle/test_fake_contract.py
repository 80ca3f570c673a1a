"""The contract suite over FakeProvider, serving included: the fake every lifecycle test leans on keeps the
promises real adapters keep."""

from __future__ import annotations

import pytest

from tuneops.testing import FakeHarness, FakeProvider, ProviderContract


class TestFakeContract(ProviderContract):
    """Every contract guarantee, FakeProvider edition."""

    base_model = "fake-base"
    served_model = "fake:fake-base:job-1"

    @pytest.fixture
    def harness(self) -> FakeHarness:
        return FakeHarness(FakeProvider())
