"""The scheduler's local cache: parsed job policies and data/eval file states, keyed by file stat.

A small SQLite file next to the snapshot cache (``.tuneops/cache/scheduler.sqlite``), never the shared
ledger. It lets a tick over thousands of job specs read one row per spec instead of parsing TOML and
validating a pydantic model per spec, and lets a data-freshness check hash only what was appended.
Like the snapshot cache it is an accelerator only: any failure turns into a miss, never an error.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FILENAME = "scheduler.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS policy (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, version TEXT NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS datafile (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, count INTEGER NOT NULL,
    digest TEXT NOT NULL, tail BLOB NOT NULL, newline INTEGER NOT NULL, keys BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS compare (
    path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, baseline TEXT NOT NULL,
    added INTEGER NOT NULL, removed INTEGER NOT NULL, base_count INTEGER NOT NULL,
    PRIMARY KEY (path, baseline)
);
CREATE TABLE IF NOT EXISTS filehash (
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quiet (
    ledger TEXT NOT NULL, job TEXT NOT NULL, inputs TEXT NOT NULL, seq INTEGER NOT NULL, since REAL NOT NULL,
    until REAL NOT NULL, PRIMARY KEY (ledger, job)
);
CREATE TABLE IF NOT EXISTS quiet_mark (ledger TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT NOT NULL);
"""


def default_dir() -> Path:
    """The snapshot cache's directory (``$TUNEOPS_CACHE_DIR`` or ``.tuneops/cache``)."""
    from tuneops.home import cache_dir

    return cache_dir()


class LocalCache:
    """Rows of the scheduler's cache; every method degrades to a miss (or a no-op) instead of raising."""

    def __init__(self, directory: Path | None):
        self.path = None if directory is None else Path(directory) / FILENAME
        self.problem: str | None = None
        self._db: sqlite3.Connection | None = None
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        except (sqlite3.Error, OSError) as exc:
            self._fail(exc)

    def _fail(self, exc: Exception) -> None:
        self.problem = f"scheduler cache {self.path} unusable ({type(exc).__name__}: {exc}); ran without it"
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None

    def rows(self, table: str, columns: str = "*", where: str = "",
             args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one of this cache's tables (optionally some columns, optionally filtered)."""
        if self._db is None:
            return []
        try:
            return self._db.execute(f"SELECT {columns} FROM {table} {where}", args).fetchall()
        except sqlite3.Error as exc:
            self._fail(exc)
            return []

    def put(self, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Insert or replace rows in one transaction."""
        data = list(rows)
        if data:
            self.write([(f"INSERT OR REPLACE INTO {table} VALUES ({','.join('?' * len(data[0]))})", data)])

    def write(self, statements: Iterable[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Run each statement over its rows, all in one transaction (statements without rows are left out)."""
        todo = [(sql, rows) for sql, rows in statements if rows]
        if self._db is None or not todo:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            for sql, rows in todo:
                self._db.executemany(sql, rows)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            self._fail(exc)

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None
