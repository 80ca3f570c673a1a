"""Who holds a piece of work: process identities (``host:pid``) and when their claim may be taken over.

Shared by the orchestrator's create lease and the scheduler's leases, so both treat a dead holder alike.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime


def identity() -> str:
    """This process as a lease owner: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def alive(owner: str) -> bool:
    """Whether a lease owner ``host:pid`` may still be working (only a process on this host can be
    known dead; one elsewhere is trusted until its lease expires)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def takeable(owner: str | None, expires_at: datetime | None, now: datetime, me: str) -> bool:
    """True when nobody else holds the claim: unowned, ours, expired, or held by a dead process."""
    if owner is None or owner == me:
        return True
    if expires_at is None or expires_at <= now:
        return True
    return not alive(owner)
