"""Several processes at once: one unbroken audit chain, and a fresh ledger migrated exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select
from sqlmodel import SQLModel

from tuneops import audit
from tuneops.store import open_store
from tuneops.store.migrate import SCHEMA_HEADS, current_heads
from tuneops.store.tables import AuditEventRow

WORKERS = Path(__file__).with_name("workers.py")


def _run_together(tmp_path: Path, argv_for: list[list[str]]) -> None:
    """Start one process per argv, release them at once, and require every one to succeed."""
    go = tmp_path / "go"
    procs, readies = [], []
    for i, argv in enumerate(argv_for):
        ready = tmp_path / f"ready-{i}"
        readies.append(ready)
        procs.append(subprocess.Popen([sys.executable, str(WORKERS), *argv, str(ready), str(go)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                      env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}))
    deadline = time.monotonic() + 60
    while not all(r.exists() for r in readies):
        assert time.monotonic() < deadline, "workers did not get ready"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs if p.poll() is not None]
        time.sleep(0.01)
    go.touch()
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]


def test_two_processes_appending_a_thousand_events_each_make_one_unbroken_chain(
        any_db_url: str, tmp_path: Path) -> None:
    open_store(any_db_url)
    _run_together(tmp_path, [["append", any_db_url, "alpha", "1000"], ["append", any_db_url, "beta", "1000"]])
    store = open_store(any_db_url)
    report = audit.verify(store)
    assert report.ok, report.problem
    assert report.events == report.head_seq == 2000
    with store.read() as s:
        per_writer = dict(s.execute(select(AuditEventRow.job_name, func.count())
                                    .group_by(AuditEventRow.job_name)).all())
    assert per_writer == {"alpha": 1000, "beta": 1000}


def test_processes_opening_a_fresh_ledger_at_once_migrate_it_exactly_once(
        any_db_url: str, tmp_path: Path) -> None:
    # Nothing has opened this ledger yet: every worker races to create the schema.
    _run_together(tmp_path, [["migrate", any_db_url] for _ in range(6)])
    store = open_store(any_db_url, migrate=False)
    assert current_heads(store) == SCHEMA_HEADS
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), SQLModel.metadata) == []
    report = audit.verify(store)
    assert report.ok and report.events == 6
