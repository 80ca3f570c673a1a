"""SQL over a bare DB-API connection (sqlite3 or psycopg), the same text on either database.

The scheduler's tick, the audit chain and read-only commands run their statements through this
instead of SQLAlchemy, so a process that only reads, or records a few decisions, never imports it
(about 0.6-1 s of start-up). Inside an ORM transaction, ``of_session`` runs the same statements on
that transaction's connection, so there is one implementation of each statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized
from contextlib import contextmanager
from datetime import datetime
from typing import Any

# SQLAlchemy's text form of a SQLite DATETIME (always with microseconds), so times compare as text.
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"


def marks(values: Sized) -> str:
    """``?, ?, ?`` for an IN list of these values."""
    return ", ".join("?" * len(values))


class Sql:
    """Statements with ``?`` placeholders on either database; rows as tuples."""

    def __init__(self, connection: Any, dialect: str):
        self.connection = connection
        self.dialect = dialect
        self._postgres = dialect == "postgresql"

    def _text(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._postgres else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one query and return every row."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._text(sql), tuple(params))
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; the number of rows it changed."""
        cursor = self.connection.cursor()
        try:
            cursor.execute(self._text(sql), tuple(params))
            return cursor.rowcount
        finally:
            cursor.close()

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per parameter tuple."""
        cursor = self.connection.cursor()
        try:
            cursor.executemany(self._text(sql), [tuple(p) for p in params])
        finally:
            cursor.close()

    @property
    def for_update(self) -> str:
        """The row-locking suffix of a SELECT (SQLite has none: BEGIN IMMEDIATE holds its one write lock)."""
        return " FOR UPDATE" if self._postgres else ""

    @property
    def skip_locked(self) -> str:
        """``for_update``, skipping rows another transaction holds."""
        return " FOR UPDATE SKIP LOCKED" if self._postgres else ""

    def time_param(self, value: datetime) -> Any:
        """A naive UTC time as this database stores and compares it."""
        return value.strftime(SQLITE_TIME) if not self._postgres else value

    @staticmethod
    def time(value: Any) -> datetime:
        """A stored time as a naive UTC datetime (None stays None)."""
        return datetime.fromisoformat(value) if isinstance(value, str) else value

    @contextmanager
    def write(self) -> Iterator[Sql]:
        """A read-then-write transaction on this connection: BEGIN IMMEDIATE on SQLite; commits on success."""
        if self._postgres:
            if getattr(self.connection, "autocommit", False):  # a psycopg connection of our own
                with self.connection.transaction():
                    yield self
                return
            # A pooled connection opens a transaction with its first statement: end the one its reads
            # opened, so what follows is one transaction of its own.
            self.connection.commit()
            try:
                yield self
            except BaseException:
                self.connection.rollback()
                raise
            self.connection.commit()
            return
        self.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")


def of_session(session: Any) -> Sql:
    """The SQL of an ORM session's current transaction (begun if it was not; pending objects flushed)."""
    session.flush()
    connection = session.connection()
    return Sql(connection.connection.driver_connection, connection.dialect.name)
