"""The snapshot cache: per-example check results keyed by content hash, check version and tokenizer.

A small SQLite file under the project's ``.tuneops/cache/`` (never the shared ledger). Re-validating
a dataset that grew by 1% parses and tokenizes only the new 1%: every other line is hashed and
looked up. The cache is an accelerator only: if it cannot be opened or written, preflight runs
without it and says so.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
from xxhash import xxh3_128_digest

from tuneops.datasets.checks import ExampleResult
from tuneops.home import cache_dir

FILENAME = "preflight.sqlite"
_BATCH = 900  # stays under SQLite's oldest limit on bound parameters (999)

# One narrow table: the key is a 4-byte context prefix (check version, tokenizer, formats) plus the
# line's 16-byte content key; the value is the ExampleResult as a compact JSON array. Two columns
# insert noticeably faster than one column per field.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS result (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoint (
    path TEXT NOT NULL,
    ctx TEXT NOT NULL,
    size INTEGER NOT NULL,
    digest BLOB NOT NULL,
    reader BLOB NOT NULL,
    meta BLOB NOT NULL,
    arrays BLOB NOT NULL,
    PRIMARY KEY (path, ctx)
);
CREATE TABLE IF NOT EXISTS manifest (
    sha256 TEXT PRIMARY KEY,
    keys BLOB NOT NULL
);
"""


def _prefix(ctx: str) -> bytes:
    return xxh3_128_digest(ctx.encode())[:4]


def default_dir() -> Path:
    """``$TUNEOPS_CACHE_DIR``, else ``cache/`` in the project's ``$TUNEOPS_HOME`` (default ``.tuneops``)."""
    return cache_dir()


class SnapshotCache:
    """Per-example results in SQLite; every method degrades to a miss instead of raising."""

    def __init__(self, directory: Path | None):
        self.path = None if directory is None else Path(directory) / FILENAME
        self.problem: str | None = None
        self.empty = True
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
                # A new cache has nothing to find: skip the lookups (a first run is all misses).
                self.empty = db.execute("SELECT 1 FROM result LIMIT 1").fetchone() is None
                self._db = db
            except (sqlite3.Error, OSError) as exc:
                self._fail(exc)

    @property
    def enabled(self) -> bool:
        """True while the cache is usable."""
        return self._db is not None

    def _fail(self, exc: Exception) -> None:
        self.problem = f"snapshot cache {self.path} unusable ({type(exc).__name__}: {exc}); ran without it"
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
        self._db = None

    def get_many(self, keys: Sequence[bytes], ctx: str) -> dict[bytes, ExampleResult]:
        """Cached results for those of ``keys`` that are present."""
        found: dict[bytes, ExampleResult] = {}
        if self._db is None or self.empty or not keys:
            return found
        pre = _prefix(ctx)
        make = ExampleResult._make
        loads = orjson.loads
        try:
            for i in range(0, len(keys), _BATCH):
                chunk = [pre + k for k in keys[i:i + _BATCH]]
                rows = self._db.execute(f"SELECT key, value FROM result WHERE key IN ({','.join('?' * len(chunk))})",
                                        chunk)
                for key, value in rows:
                    v = loads(value)
                    if v[8]:
                        v[8] = tuple(map(tuple, v[8]))
                    found[key[4:]] = make(v)
        except (sqlite3.Error, orjson.JSONDecodeError, ValueError, TypeError, IndexError) as exc:
            self._fail(exc)
            return {}
        return found

    def put_many(self, rows: Iterable[tuple[bytes, ExampleResult]], ctx: str) -> None:
        """Store results (one transaction)."""
        if self._db is None:
            return
        pre = _prefix(ctx)
        dumps = orjson.dumps
        data = [(pre + key, dumps(tuple(r))) for key, r in rows]
        if not data:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO result VALUES (?, ?)", data)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            self._fail(exc)

    def get_checkpoint(self, path: str, ctx: str) -> tuple[int, bytes, list[int], bytes, bytes] | None:
        """The last scan state saved for a file: (prefix size, prefix digest, reader state, meta, arrays)."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT size, digest, reader, meta, arrays FROM checkpoint "
                                   "WHERE path = ? AND ctx = ?", (path, ctx)).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
            return None
        if row is None:
            return None
        return row[0], row[1], orjson.loads(row[2]), row[3], row[4]

    def put_checkpoint(self, path: str, ctx: str, size: int, digest: bytes, reader: list[int], meta: bytes,
                       arrays: bytes) -> None:
        """Save the scan state of a file's first ``size`` bytes (replacing the previous one)."""
        if self._db is None:
            return
        try:
            self._db.execute("INSERT OR REPLACE INTO checkpoint VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (path, ctx, size, digest, orjson.dumps(reader), meta, arrays))
        except sqlite3.Error as exc:
            self._fail(exc)

    def put_manifest(self, sha256: str, keys: bytes) -> None:
        """Remember which example keys a prepared snapshot holds (for data-freshness checks)."""
        if self._db is None:
            return
        try:
            self._db.execute("INSERT OR REPLACE INTO manifest VALUES (?, ?)", (sha256, keys))
        except sqlite3.Error as exc:
            self._fail(exc)

    def get_manifest(self, sha256: str) -> bytes | None:
        """The example keys recorded for a snapshot, or None."""
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT keys FROM manifest WHERE sha256 = ?", (sha256,)).fetchone()
        except sqlite3.Error as exc:
            self._fail(exc)
            return None
        return None if row is None else row[0]

    def close(self) -> None:
        """Close the database."""
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None


class PendingCache:
    """A SnapshotCache whose writes wait for the verdict: ``close(keep=False)`` drops them, so a
    refused input leaves ``.tuneops/`` as it was (no cache file is even created for it)."""

    def __init__(self, directory: Path | None):
        self.directory = directory
        self.path = None if directory is None else Path(directory) / FILENAME
        exists = self.path is not None and self.path.is_file()
        self._reads = SnapshotCache(directory if exists else None)
        self._want = directory is not None
        self._rows: list[tuple[list[tuple[bytes, ExampleResult]], str]] = []
        self._checkpoints: list[tuple[Any, ...]] = []

    @property
    def enabled(self) -> bool:
        """True while results can be remembered (reads come from an existing cache only)."""
        return self._want and (self._reads.enabled or self._reads.path is None)

    @property
    def problem(self) -> str | None:
        """Why the cache could not be used, if it could not."""
        return self._reads.problem

    def get_many(self, keys: Sequence[bytes], ctx: str) -> dict[bytes, ExampleResult]:
        """Cached results for those of ``keys`` that are present."""
        return self._reads.get_many(keys, ctx)

    def get_checkpoint(self, path: str, ctx: str) -> tuple[int, bytes, list[int], bytes, bytes] | None:
        """The last scan state saved for a file."""
        return self._reads.get_checkpoint(path, ctx)

    def put_many(self, rows: Iterable[tuple[bytes, ExampleResult]], ctx: str) -> None:
        """Hold results until ``close``."""
        if self._want:
            self._rows.append((list(rows), ctx))

    def put_checkpoint(self, *args: Any) -> None:
        """Hold a scan state until ``close``."""
        if self._want:
            self._checkpoints.append(args)

    def close(self, keep: bool = True) -> None:
        """Write what was held (``keep``) or drop it, and close."""
        self._reads.close()
        if keep and self._want and (self._rows or self._checkpoints):
            cache = SnapshotCache(self.directory)
            for rows, ctx in self._rows:
                cache.put_many(rows, ctx)
            for args in self._checkpoints:
                cache.put_checkpoint(*args)
            self._reads.problem = self._reads.problem or cache.problem
            cache.close()
        self._rows.clear()
        self._checkpoints.clear()
