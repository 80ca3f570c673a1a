"""The ledger's schema: migrations on open, equal to the declared tables, safe to re-run."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import tuneops.store.tables  # noqa: F401  (declares the tables)
from tuneops.store import open_store
from tuneops.store.migrate import SCHEMA_HEADS, current_heads, revision_heads, upgrade


def test_schema_heads_constant_matches_the_revision_files() -> None:
    assert revision_heads() == SCHEMA_HEADS


def test_a_new_database_is_migrated_to_exactly_the_declared_tables(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "l.db"))
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
    assert current_heads(store) == SCHEMA_HEADS


def test_opening_twice_runs_no_migration_the_second_time(tmp_path: Path) -> None:
    open_store(str(tmp_path / "l.db"))
    store = open_store(str(tmp_path / "l.db"))
    assert upgrade(store) is False


def test_the_default_ledger_lives_in_the_project(tmp_path: Path) -> None:
    store = open_store()
    assert store.url.endswith(".tuneops/tuneops.db")
    assert (tmp_path / ".tuneops" / "tuneops.db").exists()
