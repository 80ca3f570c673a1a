"""Schema migrations (Alembic) that run on open and are safe with several processes at once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tuneops.errors import StoreError

if TYPE_CHECKING:
    from tuneops.store.engine import Store

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# The Alembic heads this code expects. Checking them without loading Alembic (or, in
# tuneops.store.reader, SQLAlchemy) keeps every command's start-up fast; tests/store/test_migrations.py
# keeps this in step with the revision files.
SCHEMA_HEADS = frozenset({"0002", "0003", "0005", "0014", "0016"})

# Arbitrary constant: the PostgreSQL advisory lock that serializes concurrent migrations.
_PG_LOCK_ID = 0x74756E65


def _config(connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


def current_heads(store: Store) -> frozenset[str]:
    """The revisions recorded in the database (empty for a new database)."""
    from sqlalchemy import inspect, text

    with store.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return frozenset()
        return frozenset(r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version")))


def upgrade(store: Store, *, force: bool = False) -> bool:
    """Bring the schema to SCHEMA_HEADS; returns True when a migration ran."""
    if not force and current_heads(store) == SCHEMA_HEADS:
        return False
    from alembic import command
    from sqlalchemy import text

    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            # One writer at a time: a second process waits here, then finds the schema current.
            conn = conn.execution_options(tuneops_begin="IMMEDIATE")
            conn.begin()
        else:
            conn.begin()
            conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        try:
            command.upgrade(_config(conn), "heads")
            conn.commit()
        except Exception as exc:
            conn.rollback()
            raise StoreError(f"migrating the ledger at {store.url} failed: {exc}") from exc
    return True


def revision_heads() -> frozenset[str]:
    """The heads declared by the revision files (loads Alembic; for tests and `tuneops db`)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(MIGRATIONS_DIR))
    return frozenset(script.get_heads())
