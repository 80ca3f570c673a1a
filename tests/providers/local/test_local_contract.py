"""The shared provider contract, run against LocalProvider with real job directories and real processes.

The harness starts a stand-in process (``sleep``) instead of a trainer, so statuses stay where the
test pins them; the job directory, the lock hand-over and cancel's SIGTERM are the real ones.
Faults are OS errors injected at the provider's file operations and translated by its own code.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tuneops.provider import ProviderConfig, RunStatus
from tuneops.providers.local import LocalProvider
from tuneops.providers.local.jobs import JobDir, write_json
from tuneops.providers.local.status import STATUS_TABLE
from tuneops.testing import ProviderContract

pytestmark = pytest.mark.local


def sleeper(job: JobDir) -> list[str]:
    """A process that lives until cancelled, in place of a trainer."""
    return ["sleep", "600"]


@dataclass
class LocalHarness:
    """ContractHarness over LocalProvider and its job directories."""

    provider: LocalProvider
    raw_statuses: dict[str, RunStatus] = field(default_factory=lambda: dict(STATUS_TABLE))

    def set_status(self, provider_job_id: str, raw_status: str) -> None:
        """Write the job's status file as the training process would."""
        write_json(self.provider.root / "jobs" / provider_job_id / "status.json", {"status": raw_status})

    def fail_next(self, operation: str, http_status: int, *, retry_after: float | None = None) -> None:
        """429: a busy resource; 5xx: an I/O error (on create, after the job directory exists); 4xx: refused."""
        if http_status == 429:
            exc: OSError = BlockingIOError(errno.EAGAIN, "resource temporarily unavailable")
            exc.retry_after = retry_after  # type: ignore[attr-defined]
        elif http_status >= 500:
            exc = OSError(errno.EIO, "input/output error")
            operation = "launch" if operation == "create" else operation
        else:
            exc = PermissionError(errno.EACCES, "permission denied")
        self.provider.faults.setdefault(operation, []).append(exc)

    def jobs_created(self) -> int:
        """Job directories written."""
        return sum(1 for p in (self.provider.root / "jobs").glob("*/job.json"))


@pytest.fixture
def harness(tiny_model: Path, tmp_path: Path, cleanup_jobs: list[Path]) -> Iterator[LocalHarness]:
    provider = LocalProvider(ProviderConfig(options={"base_model_dir": str(tiny_model)}), launcher=sleeper)
    cleanup_jobs.append(provider.root)
    yield LocalHarness(provider)
    provider.close()


class TestLocalContract(ProviderContract):
    """Every contract guarantee holds for the local provider."""

    base_model = "tiny-chat"

    @pytest.fixture(autouse=True)
    def _options(self, monkeypatch: pytest.MonkeyPatch, tiny_model: Path) -> None:
        # The contract's requests carry no options; the local provider reads the base model's directory there.
        original = ProviderContract._request

        def request(self_, harness, tmp_path, key="tuneops-run_contract"):  # type: ignore[no-untyped-def]
            from dataclasses import replace

            return replace(original(self_, harness, tmp_path, key), options={"base_model_dir": str(tiny_model)})

        monkeypatch.setattr(ProviderContract, "_request", request)
