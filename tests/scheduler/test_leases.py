"""Leases on SQLite and PostgreSQL: one holder at a time, extended while held, taken over when the
holder's lease expires or the holder (a process on this host) is gone."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from tuneops.clock import utcnow
from tuneops.scheduler.leases import LeaseKeeper, acquire, alive, claim_fires, release, renew, takeable
from tuneops.store import open_store
from tuneops.store.scheduler_tables import FireRow, LeaseRow


def _dead_owner() -> str:
    import socket

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return f"{socket.gethostname()}:{proc.stdout.strip()}"


def test_a_named_lease_has_one_holder_until_it_expires_or_is_released(any_db_url: str) -> None:
    store = open_store(any_db_url)
    now = utcnow()
    assert acquire(store, "sync", "elsewhere:1", ttl=timedelta(minutes=5), now=now)
    assert not acquire(store, "sync", "elsewhere:2", now=now)
    assert acquire(store, "sync", "elsewhere:1", now=now)  # the holder may take it again
    assert acquire(store, "sync", "elsewhere:2", now=now + timedelta(minutes=6))  # expired: taken over
    assert not renew(store, "sync", "elsewhere:1")  # the old holder learns it lost the lease
    assert renew(store, "sync", "elsewhere:2")
    release(store, "sync", "elsewhere:2")
    assert acquire(store, "sync", "elsewhere:3")


def test_a_lease_held_by_a_dead_process_on_this_host_is_taken_at_once(any_db_url: str) -> None:
    store = open_store(any_db_url)
    dead = _dead_owner()
    assert not alive(dead) and alive("another-host:1")
    assert acquire(store, "reeval:triage", dead, ttl=timedelta(hours=1))
    assert acquire(store, "reeval:triage", "me:1")
    with store.read() as s:
        assert s.get(LeaseRow, "reeval:triage").owner == "me:1"  # type: ignore[union-attr]


def test_fires_are_claimed_by_one_process_and_reaped_from_a_dead_one(any_db_url: str) -> None:
    store = open_store(any_db_url)
    now = utcnow()
    dead = _dead_owner()
    with store.write() as s:
        for i, owner in enumerate((None, dead, "another-host:7")):
            s.add(FireRow(id=f"fire_{i}", job_name=f"job{i}", fire_key="k", rule="age", reason="r", state="claimed",
                          lease_owner=owner, lease_expires_at=now + timedelta(minutes=5) if owner else None,
                          created_at=now, updated_at=now))
    got = claim_fires(store, "me:1", ("claimed",), now=now)
    assert sorted(f.id for f in got) == ["fire_0", "fire_1"]  # the live holder elsewhere keeps fire_2
    assert claim_fires(store, "me:2", ("claimed",), now=now) == []
    later = claim_fires(store, "me:2", ("claimed",), now=now + timedelta(minutes=6))
    assert sorted(f.id for f in later) == ["fire_0", "fire_1", "fire_2"]  # every lease has expired


def test_the_keeper_extends_leases_while_work_goes_on(any_db_url: str) -> None:
    store = open_store(any_db_url)
    ttl = timedelta(seconds=30)
    assert acquire(store, "sync", "me:1", ttl=ttl)
    keeper = LeaseKeeper(store, "me:1", ttl)
    with store.read() as s:
        before = s.get(LeaseRow, "sync").expires_at  # type: ignore[union-attr]
    with keeper.named("sync"):
        keeper.renew_all()
        with store.read() as s:
            assert s.get(LeaseRow, "sync").expires_at > before  # type: ignore[union-attr]
    with store.read() as s:
        assert s.get(LeaseRow, "sync") is None  # released when the work ended
    assert takeable(None, None, utcnow(), "me:1")
