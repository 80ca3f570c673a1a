"""Opening the ledger as a bare DB-API connection, for commands whose cost is their start-up.

`tuneops history` over a million audit events answers in milliseconds, yet importing SQLAlchemy and
the table models takes about 0.6 s before the first query. So read-only commands open the ledger
with the standard library's sqlite3 (or psycopg) when its schema is current, and fall back to
opening the store the usual way (which migrates it) when it is not, reading through that store's
connection with the same SQL (``tuneops.store.sql``). The scheduler's tick also records its
decisions through it; everything else writes through ``tuneops.store.Store``.

A read-only reader (``create=False``) creates nothing: no ledger is an error (LedgerNotFound), and its
SQLite connection cannot write, so a ledger a user may only read can still be listed and verified.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuneops.errors import StoreError
from tuneops.store.migrate import SCHEMA_HEADS
from tuneops.store.sql import Sql
from tuneops.store.urls import libpq_url, require_ledger, resolve_url, sqlite_path

_BUSY_TIMEOUT_S = 60


class Reader(Sql):
    """The ledger through one bare DB-API connection of its own (closed with the reader)."""

    def __init__(self, connection: Any, dialect: str, close: Callable[[], None] | None = None, url: str = ""):
        super().__init__(connection, dialect)
        self._close = close or connection.close
        self.url = url  # with its password: for worker processes that open their own connection

    def close(self) -> None:
        """Close the connection (and the store it came from, if any)."""
        self._close()

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_reader(db: str | None = None, *, create: bool = True) -> Reader:
    """A reader over the ledger at ``db`` (as ``open_store`` finds it); migrates it first if needed.

    With ``create=False`` (read-only commands) a missing ledger raises LedgerNotFound instead of being
    created, and a SQLite ledger is opened read-only.
    """
    url = resolve_url(db, create=create)
    if not create:
        require_ledger(url)
    reader = _connect_sqlite(url, create) if url.startswith("sqlite") else _connect_postgres(url, create)
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

    return Reader(raw, store.dialect, close, url=store.engine.url.render_as_string(hide_password=False))


def _current(reader: Reader, create: bool, where: str) -> bool:
    """Whether the schema is exactly the one this code expects (else the slow path migrates it)."""
    try:
        heads = {r[0] for r in reader.rows("SELECT version_num FROM alembic_version")}
    except Exception:  # no alembic_version table yet: a new ledger
        if not create:
            reader.close()
            from tuneops.errors import LedgerNotFound

            raise LedgerNotFound(where) from None
        return False
    return heads == SCHEMA_HEADS


def _connect_sqlite(url: str, create: bool = True) -> Reader | None:
    import sqlite3

    path = sqlite_path(url)
    if path is None or not Path(path).is_file():
        return None  # a new ledger: the store creates it
    try:
        if create:
            conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        else:  # read-only: works on a file this user may only read, and can never change it
            conn = _read_only(path)
        # As the store's own connections have them (see store.engine): writes here append to the chain.
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open the ledger {path}: {exc}") from None
    reader = Reader(conn, "sqlite", url=url)
    if _current(reader, create, path):
        return reader
    reader.close()
    return None


def _read_only(path: str) -> Any:
    """A connection that cannot write (``query_only``); SQLite opens a file this user may only read
    read-only by itself. ``immutable`` when even that fails: a WAL ledger in a folder this user cannot
    write, where SQLite cannot make its shared-memory file."""
    import sqlite3

    conn = sqlite3.connect(path, timeout=_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA query_only=ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchall()
        return conn
    except sqlite3.OperationalError:
        conn.close()
    uri = f"{Path(path).absolute().as_uri()}?immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA query_only=ON")
    return conn


def _connect_postgres(url: str, create: bool = True) -> Reader | None:
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
    reader = Reader(conn, "postgresql", url=url)
    if _current(reader, create, f"{conn.info.host}/{conn.info.dbname}"):
        return reader
    reader.close()
    return None
