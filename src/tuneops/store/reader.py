"""Opening the ledger as a bare DB-API connection, for commands whose cost is their start-up.

`tuneops history` over a million audit events answers in milliseconds, yet importing SQLAlchemy and
the table models takes about 0.6 s before the first query. So read-only commands open the ledger
with the standard library's sqlite3 (or psycopg) when its schema is current, and fall back to
opening the store the usual way (which migrates it) when it is not, reading through that store's
connection with the same SQL (``tuneops.store.sql``). The scheduler's tick also records its
decisions through it; everything else writes through ``tuneops.store.Store``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuneops.errors import StoreError
from tuneops.store.migrate import SCHEMA_HEADS
from tuneops.store.sql import Sql
from tuneops.store.urls import libpq_url, resolve_url, sqlite_path

_BUSY_TIMEOUT_S = 60


class Reader(Sql):
    """The ledger through one bare DB-API connection of its own (closed with the reader)."""

    def __init__(self, connection: Any, dialect: str, close: Callable[[], None] | None = None):
        super().__init__(connection, dialect)
        self._close = close or connection.close

    def close(self) -> None:
        """Close the connection (and the store it came from, if any)."""
        self._close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_reader(db: str | None = None) -> Reader:
    """A reader over the ledger at ``db`` (as ``open_store`` finds it); migrates it first if needed."""
    url = resolve_url(db)
    reader = _connect_sqlite(url) if url.startswith("sqlite") else _connect_postgres(url)
    if reader is not None:
        return reader
    from tuneops.store.engine import open_store

    store = open_store(db)  # creates or migrates the schema, with the usual locking
    return of_store(store, close_store=True)


def of_store(store: Any, *, close_store: bool = False) -> Reader:
    """A reader over an open ``Store``'s database (its pooled connection, pragmas applied)."""
    raw = store.engine.raw_connection()

    def close() -> None:
        raw.close()
        if close_store:
            store.close()

    return Reader(raw, store.dialect, close)


def _current(reader: Reader) -> bool:
    """Whether the schema is exactly the one this code expects (else the slow path migrates it)."""
    try:
        heads = {r[0] for r in reader.rows("SELECT version_num FROM alembic_version")}
    except Exception:  # no alembic_version table yet: a new ledger
        return False
    return heads == SCHEMA_HEADS


def _connect_sqlite(url: str) -> Reader | None:
    import sqlite3

    path = sqlite_path(url)
    if path is None or not Path(path).is_file():
        return None  # a new ledger: the store creates it
    try:
        conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        # As the store's own connections have them (see store.engine): writes here append to the chain.
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the ledger {path}: {exc}") from None
    reader = Reader(conn, "sqlite")
    if _current(reader):
        return reader
    reader.close()
    return None


def _connect_postgres(url: str) -> Reader | None:
    conninfo = libpq_url(url)
    if conninfo is None:
        return None  # another database: let SQLAlchemy find its driver
    try:
        import psycopg
    except ImportError:
        return None  # open_store says what to install
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error:
        return None  # open_store reports it, with the password hidden
    reader = Reader(conn, "postgresql")
    if _current(reader):
        return reader
    reader.close()
    return None
