"""Opening the state store: SQLite by default (WAL, foreign keys, BEGIN IMMEDIATE for writes), or any
SQLAlchemy PostgreSQL URL for teams. The schema is migrated on open."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from tuneops.errors import StoreError
from tuneops.store.urls import refuse_folder, resolve_url

# How long a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 60


def _wal(cur: Any) -> None:
    """Switch to WAL. Processes opening a brand-new file at once can get "database is locked" here at
    once, without the busy timeout (SQLite does not wait on a lock it could deadlock on): try again."""
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_events(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # Take transaction control away from pysqlite so BEGIN IMMEDIATE means what it says.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        _wal(cur)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        mode = conn.get_execution_options().get("tuneops_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for ``url`` with the pragmas and transaction rules tuneops relies on."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S,
                                                      "check_same_thread": False})
            _sqlite_events(engine)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # bad URL, missing driver
        raise StoreError(f"cannot open database {_safe(url)}: {exc}. "
                         "For PostgreSQL install the extra: pip install 'tuneops[postgres]'") from None
    return engine


def _safe(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<database url>"


class Store:
    """The ledger: an engine plus read and write transactions that behave the same on both databases."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A read-then-write transaction: BEGIN IMMEDIATE on SQLite; commits on success."""
        with self.engine.connect() as conn:
            conn = conn.execution_options(tuneops_begin="IMMEDIATE")
            with Session(bind=conn, expire_on_commit=False) as session:
                try:
                    yield session
                    session.commit()
                except BaseException:
                    session.rollback()
                    raise

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction; objects read stay usable after it ends (closing does not expire them)."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def close(self) -> None:
        """Dispose of pooled connections."""
        self.engine.dispose()


def open_store(db: str | None = None, *, migrate: bool = True) -> Store:
    """Open the ledger at ``db`` (path, URL, or the default) and bring its schema up to date."""
    url = resolve_url(db)
    refuse_folder(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        # The driver's own words, without SQLAlchemy's "(Background on this error at: https://...)".
        raise StoreError(f"cannot connect to database {_safe(url)}: {getattr(exc, 'orig', None) or exc}") from None
    store = Store(engine)
    if migrate:
        from tuneops.store.migrate import upgrade

        upgrade(store)
    return store
