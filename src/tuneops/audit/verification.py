"""Checking the audit chain: recompute every hash from the genesis hash, name the first broken link,
and compare against anchors kept elsewhere to notice events cut from the end.

Each event's check needs only its own row and the one before it, so a long chain is cut into
sequence ranges that worker processes check in parallel; the seams are checked when stitching.

Everything here is plain SQL over a bare connection (``tuneops.store.sql``), so `tuneops audit verify`
reads a read-only ledger and never imports SQLAlchemy; a ``Store`` is read through its own connection.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tuneops.audit.chain import GENESIS, HEAD_ID, event_hash_iso
from tuneops.store.sql import Sql

if TYPE_CHECKING:
    from tuneops.store import Store

_COLUMNS = ("seq", "at", "actor", "action", "subject_type", "subject_id", "job_name", "details",
            "prev_hash", "hash")
# Below this many events, starting worker processes costs more than it saves.
PARALLEL_MIN = 200_000
# Each worker gets at least this many events.
_RANGE_MIN = 100_000


@dataclass(frozen=True)
class Anchor:
    """A point of the chain (seq, hash, time) kept outside the ledger to detect truncation later."""

    seq: int
    hash: str
    at: datetime | None = None

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Anchor:
        """An anchor from ``SEQ:HASH``, the JSON `tuneops audit anchor --json` prints, or a file of either."""
        from pathlib import Path

        from tuneops.errors import TuneopsError

        value = text.strip()
        if value and ":" not in value and not value.startswith("{") and Path(value).is_file():
            try:
                value = Path(value).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise TuneopsError(f"--anchor {text[:80]!r}: the file is not an anchor ({exc.__class__.__name__}); "
                                   "give SEQ:HASH as printed by `tuneops audit anchor`, or a file holding its "
                                   "--json output") from None
        try:
            if value.startswith("{"):
                data = json.loads(value)
                return cls(int(data["seq"]), str(data["hash"]))
            seq, _, digest = value.partition(":")
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError("the hash must be 64 hex digits")
            if int(seq) < 0:
                raise ValueError("the sequence number must be 0 or more")
            return cls(int(seq), digest)
        except (ValueError, KeyError, TypeError) as exc:
            raise TuneopsError(f"--anchor {text[:80]!r} is not an anchor ({exc}); give SEQ:HASH as printed "
                               "by `tuneops audit anchor`, or a file holding its --json output") from None


@dataclass(frozen=True)
class ChainReport:
    """What `audit verify` found: ok, or the first broken link and why."""

    ok: bool
    events: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str | None = None
    anchor: Anchor | None = None
    seconds: float = 0.0
    workers: int = 1

    @property
    def rate(self) -> float:
        """Events verified per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class _Range:
    """What one worker found in events lo..hi (``first_prev``: the prev_hash of its first event)."""

    lo: int
    count: int
    first_prev: str | None
    last_hash: str | None
    bad_seq: int | None = None
    problem: str | None = None


class _Broken(Exception):
    def __init__(self, seq: int, problem: str):
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


def verify(ledger: Store | Sql, *, anchor: Anchor | None = None, workers: int | None = None,
           batch: int = 20_000) -> ChainReport:
    """Recompute the whole chain from the genesis hash; report the first broken link, if any.

    Checks every event's sequence number (no gaps), its link to the previous hash and its own hash,
    that the head row names the last event, and, given an anchor, that the anchored event is still
    there with the same hash (so removing events from the end is noticed). ``workers`` None picks
    a process count from the chain's length and the CPUs. ``ledger`` is a ``Store`` or a reader
    (``tuneops.store.reader.open_reader``).
    """
    if not isinstance(ledger, Sql):
        from tuneops.store.reader import of_store

        with of_store(ledger) as reader:
            return verify(reader, anchor=anchor, workers=workers, batch=batch)
    start = time.perf_counter()
    with _snapshot(ledger) as db:
        missing = _missing_tables(db)
        if missing:
            return ChainReport(False, 0, 0, GENESIS, None, missing, anchor, time.perf_counter() - start)
        head = db.rows("SELECT seq, hash FROM audit_head WHERE id = ?", (HEAD_ID,))
        last_seq = int(db.rows("SELECT MAX(seq) FROM audit_event")[0][0] or 0)
        n = workers or (min(os.cpu_count() or 1, 8, last_seq // _RANGE_MIN) if last_seq >= PARALLEL_MIN else 1)
        n = max(1, min(n, last_seq))
        url = getattr(ledger, "url", "")  # workers open their own connection: a Reader's URL
        n = n if url else 1
        ranges = _in_workers(url, last_seq, n, batch) if n > 1 else [_check_range(db, 1, last_seq, batch)]
        count, prev = 0, GENESIS
        try:
            for part in ranges:
                if part.bad_seq == part.lo:  # its first event is already wrong: nothing to stitch
                    raise _Broken(part.bad_seq, part.problem or "")
                if part.first_prev is not None and part.first_prev != prev:
                    raise _Broken(part.lo, _unlinked(part.lo))
                count += part.count
                prev = part.last_hash or prev  # the last good event's hash, even in a broken range
                if part.bad_seq is not None:
                    raise _Broken(part.bad_seq, part.problem or "")
            if head:
                _check_head(int(head[0][0]), str(head[0][1]), last_seq, prev)
            if anchor is not None:
                _check_anchor(db, anchor, last_seq)
        except _Broken as broken:
            return ChainReport(False, count, broken.seq - 1, prev, broken.seq, broken.problem, anchor,
                               time.perf_counter() - start, n)
        unrecorded = _runs_against_events(db)
    return ChainReport(not unrecorded, count, last_seq, prev, problem=unrecorded, anchor=anchor,
                       seconds=time.perf_counter() - start, workers=n)


def _tables(db: Sql) -> set[str]:
    """The ledger's table names (SQLite's catalogue or PostgreSQL's current schema)."""
    if db.dialect == "postgresql":
        return {r[0] for r in db.rows("SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = current_schema()")}
    return {r[0] for r in db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _missing_tables(db: Sql) -> str | None:
    """A finding when the audit tables are gone (dropped, or this is not a tuneops ledger)."""
    names = _tables(db)
    gone = [t for t in ("audit_event", "audit_head") if t not in names]
    if not gone:
        return None
    runs = " while the ledger holds runs" if "run" in names and db.rows("SELECT COUNT(*) FROM run")[0][0] else ""
    return (f"the ledger has no {' or '.join(gone)} table{runs}: the audit trail was removed, or this is not "
            "a tuneops ledger; restore it from a backup or export (`tuneops db status` shows the schema)")


def _runs_against_events(db: Sql) -> str | None:
    """A finding when a run has no run.admitted event, or a run.admitted event's run is gone."""
    admitted = "SELECT subject_id FROM audit_event WHERE action = 'run.admitted'"
    silent = [r for (r,) in db.rows(f"SELECT id FROM run WHERE id NOT IN ({admitted}) ORDER BY created_at LIMIT 1001")]
    gone = [r for (r,) in db.rows("SELECT subject_id FROM audit_event WHERE action = 'run.admitted' "
                                  "AND subject_id NOT IN (SELECT id FROM run) ORDER BY seq LIMIT 1001")]
    problems = []
    if silent:
        problems.append(f"{_count(silent)} run(s) have no audit event (first: {silent[0]}): they were written "
                        "behind the audit trail's back")
    if gone:
        problems.append(f"{_count(gone)} run(s) recorded as admitted are missing from the ledger (first: "
                        f"{gone[0]}): they were deleted")
    return "; ".join(problems) or None


def _count(ids: list[str]) -> str:
    return "over 1000" if len(ids) > 1000 else str(len(ids))


def _unlinked(seq: int) -> str:
    return (f"event {seq} does not link to event {seq - 1} (its prev_hash differs from that event's "
            "hash: removed, reordered or replaced)")


def _check_range(db: Sql, lo: int, hi: int, batch: int) -> _Range:
    """Check events lo..hi against each other and their own hashes (the link into lo is the caller's)."""
    expected, prev, first_prev, count = lo, None, None, 0
    try:
        for rows in _batches(db, lo, hi, batch):
            for seq, at, actor, action, stype, sid, job, details, prev_hash, digest in rows:
                if seq != expected:
                    raise _Broken(expected, f"event {expected} is missing (the chain jumps from "
                                            f"{expected - 1} to {seq})")
                if prev is None:
                    first_prev = prev_hash
                elif prev_hash != prev:
                    raise _Broken(seq, _unlinked(seq))
                # SQLite hands back SQLAlchemy's text form "YYYY-MM-DD HH:MM:SS.ffffff", PostgreSQL the
                # ISO form already (see _batches); the hash covers the ISO form with microseconds.
                iso = (at.replace(" ", "T", 1) if len(at) == 26 else _iso(at)) if at.__class__ is str \
                    else at.isoformat(timespec="microseconds")
                if event_hash_iso(prev_hash, seq, iso, actor, action, stype, sid, job, details) != digest:
                    raise _Broken(seq, f"event {seq} was changed (its hash does not match its content)")
                prev, expected, count = digest, seq + 1, count + 1
        if expected <= hi:
            raise _Broken(expected, f"event {expected} is missing (the chain jumps from {expected - 1} "
                                    f"to {hi + 1})")
    except _Broken as broken:
        return _Range(lo, count, first_prev, prev, broken.seq, broken.problem)
    return _Range(lo, count, first_prev, prev)


def _batches(db: Sql, lo: int, hi: int, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """Events lo..hi in order and in batches, straight from the driver (no row objects: at a million
    events they would cost more than the hashing)."""
    columns = list(_COLUMNS)
    if db.dialect != "sqlite":
        # The server writes the ISO text the hash needs, cheaper than a datetime per row in Python.
        columns[1] = "to_char(at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    sql = f"SELECT {', '.join(columns)} FROM audit_event WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?"
    after = lo - 1
    while True:
        rows = db.rows(sql, (after, hi, batch))
        if rows:
            yield rows
        if len(rows) < batch:
            return
        after = rows[-1][0]


def _in_workers(url: str, last_seq: int, n: int, batch: int) -> list[_Range]:
    """Check 1..last_seq in ``n`` processes, one contiguous range each, results in chain order."""
    import multiprocessing
    import threading
    from concurrent.futures import ProcessPoolExecutor

    step = -(-last_seq // n)
    bounds = [(lo, min(lo + step - 1, last_seq)) for lo in range(1, last_seq + 1, step)]

    # fork starts a worker in milliseconds, but is only safe in a single-threaded process on Linux;
    # otherwise spawn, which re-imports tuneops in each worker.
    method = "fork" if sys.platform.startswith("linux") and threading.active_count() == 1 else "spawn"
    with ProcessPoolExecutor(len(bounds), mp_context=multiprocessing.get_context(method)) as pool:
        futures = [pool.submit(_worker, url, lo, hi, batch) for lo, hi in bounds]
        return [f.result() for f in futures]


def _worker(url: str, lo: int, hi: int, batch: int) -> _Range:
    # A connection of its own: one inherited from the parent must never be used in a child.
    from tuneops.store.reader import open_reader

    with open_reader(url, create=False) as reader, _snapshot(reader) as db:
        return _check_range(db, lo, hi, batch)


def _iso(text: str) -> str:
    try:
        return datetime.fromisoformat(text).isoformat(timespec="microseconds")
    except ValueError:
        return text  # not a time at all: the hash check will name the event


def _check_head(head_seq: int, head_hash: str, last: int, last_hash: str) -> None:
    if head_seq > last:
        raise _Broken(last + 1, f"the chain ends at event {last} but its head names event {head_seq}: "
                                "events were removed from the end")
    if head_seq < last:
        raise _Broken(head_seq + 1, f"events {head_seq + 1}..{last} were not appended through the chain "
                                    "head (inserted behind tuneops's back)")
    if head_hash != last_hash:
        raise _Broken(last, f"the chain head's hash differs from event {last}'s")


def _check_anchor(db: Sql, anchor: Anchor, last: int) -> None:
    if anchor.seq == 0:
        if anchor.hash != GENESIS:
            raise _Broken(1, "the anchor names event 0 with a hash other than the chain's start: it matches no "
                             "event; pass an anchor printed by `tuneops audit anchor`")
        return
    if anchor.seq > last:
        raise _Broken(last + 1, f"the chain ends at event {last} but the anchor names event {anchor.seq}: "
                                "events were removed from the end")
    row = db.rows("SELECT hash FROM audit_event WHERE seq = ?", (anchor.seq,))
    if not row or row[0][0] != anchor.hash:
        raise _Broken(anchor.seq, f"event {anchor.seq} differs from the anchor: the chain up to it was "
                                  "rewritten")


@contextmanager
def _snapshot(db: Sql) -> Iterator[Sql]:
    """A read transaction that sees one consistent state of the chain while appends go on."""
    if db.dialect != "postgresql":
        db.execute("BEGIN")
    elif getattr(db.connection, "autocommit", False):  # a psycopg connection of our own
        db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    else:  # a pooled connection begins with its first statement: end the one its reads opened
        db.connection.commit()
        db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    try:
        yield db
    finally:
        if db.dialect != "postgresql" or getattr(db.connection, "autocommit", False):
            db.execute("COMMIT")
        else:
            db.connection.commit()


def anchor(ledger: Store | Sql) -> Anchor:
    """The chain's current head as an anchor (seq 0 and the genesis hash for an empty chain)."""
    if not isinstance(ledger, Sql):
        from tuneops.store.reader import of_store

        with of_store(ledger) as reader:
            return anchor(reader)
    head = ledger.rows("SELECT seq, hash FROM audit_head WHERE id = ?", (HEAD_ID,))
    if not head or head[0][0] == 0:
        return Anchor(0, GENESIS, None)
    at = ledger.rows("SELECT at FROM audit_event WHERE seq = ?", (head[0][0],))
    return Anchor(int(head[0][0]), str(head[0][1]), Sql.time(at[0][0]) if at else None)
