"""The snapshot cache: per-example check results keyed by content hash, check version and tokenizer.

A small SQLite file under the project's ``.tuneops/cache/`` (never the shared ledger). Re-validating
a dataset that grew by 1% parses and tokenizes only the new 1%: every other line is hashed and
looked up. The cache is an accelerator only: if it cannot be opened or written, preflight runs
without it and says so.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import orjson

from tuneops.datasets.checks import ExampleResult

FILENAME = "preflight.sqlite"
_BATCH = 900  # stays under SQLite's oldest limit on bound parameters (999)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS example (
    key BLOB NOT NULL,
    ctx TEXT NOT NULL,
    kind INTEGER NOT NULL,
    messages INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    trainable INTEGER NOT NULL,
    near INTEGER NOT NULL,
    label TEXT,
    system INTEGER,
    has_error INTEGER NOT NULL,
    findings BLOB,
    PRIMARY KEY (key, ctx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS manifest (
    sha256 TEXT PRIMARY KEY,
    keys BLOB NOT NULL
);
"""


def default_dir() -> Path:
    """``$TUNEOPS_CACHE_DIR``, else ``cache/`` in the project's ``$TUNEOPS_HOME`` (default ``.tuneops``)."""
    env = os.environ.get("TUNEOPS_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("TUNEOPS_HOME", ".tuneops")) / "cache"


class SnapshotCache:
    """Per-example results in SQLite; every method degrades to a miss instead of raising."""

    def __init__(self, directory: Path | None):
        self.path = None if directory is None else Path(directory) / FILENAME
        self.problem: str | None = None
        self._db: sqlite3.Connection | None = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
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
        if self._db is None or not keys:
            return found
        try:
            for i in range(0, len(keys), _BATCH):
                chunk = keys[i:i + _BATCH]
                rows = self._db.execute(
                    "SELECT key, kind, messages, tokens, trainable, near, label, system, has_error, findings "
                    f"FROM example WHERE ctx = ? AND key IN ({','.join('?' * len(chunk))})", (ctx, *chunk))
                make = ExampleResult._make
                for row in rows:
                    findings = row[9]
                    items = tuple(tuple(f) for f in orjson.loads(findings)) if findings else ()
                    found[row[0]] = make((*row[1:9], items))
        except (sqlite3.Error, orjson.JSONDecodeError, ValueError, TypeError) as exc:
            self._fail(exc)
            return {}
        return found

    def put_many(self, rows: Iterable[tuple[bytes, ExampleResult]], ctx: str) -> None:
        """Store results (one transaction)."""
        if self._db is None:
            return
        data = [(key, ctx, r.kind, r.messages, r.tokens, r.trainable, r.near, r.label, r.system,
                 int(r.has_error), orjson.dumps(r.findings) if r.findings else None) for key, r in rows]
        if not data:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO example VALUES (?,?,?,?,?,?,?,?,?,?,?)", data)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
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
