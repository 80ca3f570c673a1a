"""Fixtures for the intent tests: fast retries, a small project, sandboxes that can be restarted on one
port, and what a sandbox holds (jobs, the bytes each trained on) counted at the sandbox itself."""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuneops import retry
from tuneops.retry import RetryPolicy

FAST = RetryPolicy(attempts=3, total_seconds=10, base_seconds=0.01, max_backoff_seconds=0.02)


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retries in milliseconds, so an unreachable provider fails a command at once."""
    monkeypatch.setattr(retry, "DEFAULT_POLICY", FAST)


@pytest.fixture
def small_project(project: Path) -> Path:
    """The example project cut to 24 training and 10 validation examples."""
    data = project.parent / "data"
    for name, keep in (("support-triage.train.jsonl", 24), ("support-triage.valid.jsonl", 10)):
        lines = (data / name).read_text().splitlines(keepends=True)[:keep]
        (data / name).write_text("".join(lines))
    return project


def free_port() -> int:
    """A loopback port nothing listens on (a provider that cannot be reached)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Sandboxes:
    """One sandbox URL whose server can be stopped, restarted (losing its state) and counted."""

    def __init__(self, time_scale: float = 40.0):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.time_scale = time_scale
        self.server: Any = None
        self.incarnations = 0

    def start(self) -> None:
        """Start a fresh sandbox (no files, no jobs) on the same port."""
        from tuneops.sandbox import SandboxServer

        if self.server is None:
            self.server = SandboxServer(port=self.port, time_scale=self.time_scale).start()
            self.incarnations += 1

    def stop(self) -> None:
        """Stop it: the provider is unreachable until started again."""
        if self.server is not None:
            self.server.stop()
            self.server = None

    def restart(self) -> None:
        """What a user's `tuneops sandbox serve` restart does: everything it held is gone."""
        self.stop()
        self.start()

    def jobs(self) -> list[tuple[str, str | None, str]]:
        """Every job the running sandbox holds: (job id, the run key it carries, sha256 of its training bytes)."""
        if self.server is None:
            return []
        state = self.server.state
        with state.lock:
            out = []
            for job in state.jobs.values():
                record = state.files.files.get(job.request.training_file)
                digest = hashlib.sha256(record.content).hexdigest() if record else "<file gone>"
                out.append((job.id, (job.request.metadata or {}).get("tuneops_key"), digest))
            return out

    def requests(self, route: str) -> int:
        """How many requests of this route the running sandbox served."""
        if self.server is None:
            return 0
        return int(self.server.state.counters.requests.get(route, 0))


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandboxes]:
    """A restartable sandbox the `sandbox` provider points at (started)."""
    boxes = Sandboxes()
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", boxes.url)
    boxes.start()
    yield boxes
    boxes.stop()


def ledger_runs(db: str | None = None) -> list[Any]:
    """Every run in the ledger."""
    from tuneops.store import open_store, queries

    store = open_store(db)
    try:
        with store.read() as s:
            return list(queries.list_runs(s, limit=100000))
    finally:
        store.close()


def check_invariants(boxes: Sandboxes, db: str | None = None) -> dict[str, list[str]]:
    """At the sandbox: each intent has at most one provider job, and every job trained on the bytes the
    ledger records for its run. Returns the jobs by intent."""
    runs = {r.idempotency_key: r for r in ledger_runs(db)}
    by_intent: dict[str, list[str]] = {}
    for job_id, key, digest in boxes.jobs():
        run = runs.get(key or "")
        assert run is not None, f"provider job {job_id} carries key {key}, which no run in the ledger has"
        assert digest == run.train_sha256, (f"job {job_id} of run {run.id} trained on bytes {digest[:12]}, "
                                            f"the ledger says {run.train_sha256[:12]}")
        by_intent.setdefault(run.intent_key, []).append(job_id)
    for intent, jobs in by_intent.items():
        assert len(jobs) == 1, f"intent {intent[:12]} has {len(jobs)} provider jobs: {jobs}"
    return by_intent


@pytest.fixture
def invariants() -> Any:
    """``invariants(boxes, db=None)``: assert the intent invariants at the sandbox (see check_invariants)."""
    return check_invariants


@pytest.fixture
def runs_in_ledger() -> Any:
    """``runs_in_ledger(db=None)``: every run in the ledger."""
    return ledger_runs
