"""Leases: who is working on what, until when, so any number of scheduler processes share the work.

Work on a fire is claimed by writing this process's identity and an expiry on the fire row; singleton
work (polling providers, re-scoring a job's alias holder) by a named row in ``lease``. Claims select
rows ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so processes claiming at once pass over each other's
rows instead of queueing on them (SQLite has one writer under ``BEGIN IMMEDIATE`` and drops the clause).
A ``LeaseKeeper`` thread extends the leases a process holds while its work goes on; a lease whose
holder died is taken over once it expires, or at once when the holder was a process on this host
that no longer exists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from tuneops.clock import utcnow
from tuneops.owners import alive, identity, takeable  # noqa: F401  (part of this module's API)
from tuneops.store import Store
from tuneops.store.scheduler_tables import FIRE_ACTIVE_STATES, FireRow, LeaseRow

DEFAULT_TTL = timedelta(minutes=5)


def acquire(store: Store, name: str, owner: str, *, ttl: timedelta = DEFAULT_TTL,
            now: datetime | None = None) -> bool:
    """Take the named lease if nobody else holds it; True when this owner now holds it."""
    now = now or utcnow()
    try:
        with store.write() as s:
            row = s.execute(select(LeaseRow).where(LeaseRow.name == name)  # type: ignore[arg-type]
                            .with_for_update(skip_locked=True)).scalars().first()
            if row is None:
                # Absent, or locked by another process right now (SKIP LOCKED hid it): the insert
                # then fails on the primary key, which means the same thing: someone else has it.
                s.add(LeaseRow(name=name, owner=owner, acquired_at=now, renewed_at=now, expires_at=now + ttl))
                s.flush()
                return True
            if not takeable(row.owner, row.expires_at, now, owner):
                return False
            if row.owner != owner:
                row.acquired_at = now
            row.owner, row.renewed_at, row.expires_at = owner, now, now + ttl
            s.add(row)
            return True
    except IntegrityError:  # another process inserted the same lease first
        return False


def renew(store: Store, name: str, owner: str, *, ttl: timedelta = DEFAULT_TTL) -> bool:
    """Extend a named lease this owner holds; False when it was lost (taken over)."""
    now = utcnow()
    with store.write() as s:
        done = s.execute(update(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner)  # type: ignore[arg-type]
                         .values(renewed_at=now, expires_at=now + ttl))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def release(store: Store, name: str, owner: str) -> None:
    """Give a named lease up (only if this owner still holds it)."""
    with store.write() as s:
        s.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.owner == owner))  # type: ignore[arg-type]


def claim_fires(store: Store, owner: str, states: Sequence[str], *, ttl: timedelta = DEFAULT_TTL,
                now: datetime | None = None, ids: Sequence[str] | None = None) -> list[FireRow]:
    """Lease the fires in ``states`` (optionally only ``ids``) that nobody else holds; returns them."""
    now = now or utcnow()
    with store.write() as s:
        stmt = select(FireRow).where(FireRow.state.in_(states))  # type: ignore[attr-defined]
        if ids is not None:
            stmt = stmt.where(FireRow.id.in_(ids))  # type: ignore[attr-defined]
        rows = s.execute(stmt.order_by(FireRow.created_at).with_for_update(skip_locked=True)).scalars().all()
        mine = [r for r in rows if takeable(r.lease_owner, r.lease_expires_at, now, owner)]
        for r in mine:
            r.lease_owner, r.lease_expires_at = owner, now + ttl
            r.attempts += 1
            r.updated_at = now
            s.add(r)
    return list(mine)


def renew_fire(store: Store, fire_id: str, owner: str, *, ttl: timedelta = DEFAULT_TTL) -> bool:
    """Extend this owner's lease on a fire; False when it was lost."""
    now = utcnow()
    with store.write() as s:
        done = s.execute(update(FireRow).where(FireRow.id == fire_id, FireRow.lease_owner == owner)  # type: ignore[arg-type]
                         .values(lease_expires_at=now + ttl))
    return bool(done.rowcount)  # type: ignore[attr-defined]


def stale_fires(store: Store, now: datetime, me: str) -> list[FireRow]:
    """Active fires whose holder is gone (for `schedule fires` and the health line)."""
    with store.read() as s:
        rows = s.execute(select(FireRow).where(FireRow.state.in_(FIRE_ACTIVE_STATES),  # type: ignore[attr-defined]
                                               FireRow.lease_owner.is_not(None))).scalars().all()  # type: ignore
    return [r for r in rows if r.lease_owner != me and takeable(r.lease_owner, r.lease_expires_at, now, me)]


class LeaseKeeper:
    """A daemon thread that extends this process's leases every third of their time to live."""

    def __init__(self, store: Store, owner: str, ttl: timedelta = DEFAULT_TTL):
        self.store, self.owner, self.ttl = store, owner, ttl
        self._fires: set[str] = set()
        self._names: set[str] = set()
        self.lost: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> LeaseKeeper:
        """Start renewing."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tuneops-lease-keeper", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop renewing (leases then expire unless released)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        interval = max(0.5, self.ttl.total_seconds() / 3)
        while not self._stop.wait(interval):
            self.renew_all()

    def renew_all(self) -> None:
        """Extend every lease held now; remember the ones that were lost."""
        with self._lock:
            fires, names = list(self._fires), list(self._names)
        for fire_id in fires:
            try:
                if not renew_fire(self.store, fire_id, self.owner, ttl=self.ttl):
                    self.lost.add(fire_id)
            except Exception:  # a busy database: the next round tries again before expiry
                pass
        for name in names:
            try:
                if not renew(self.store, name, self.owner, ttl=self.ttl):
                    self.lost.add(name)
            except Exception:
                pass

    @contextmanager
    def fire(self, fire_id: str) -> Iterator[None]:
        """Keep this fire's lease alive for the duration of the block."""
        with self._lock:
            self._fires.add(fire_id)
        try:
            yield
        finally:
            with self._lock:
                self._fires.discard(fire_id)

    @contextmanager
    def named(self, name: str) -> Iterator[None]:
        """Keep a named lease alive for the duration of the block, then release it."""
        with self._lock:
            self._names.add(name)
        try:
            yield
        finally:
            with self._lock:
                self._names.discard(name)
            release(self.store, name, self.owner)
