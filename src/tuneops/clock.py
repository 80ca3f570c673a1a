"""Time and identifiers: naive UTC everywhere (what the store keeps), sortable ids."""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time as naive UTC (the store's convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def from_unix(seconds: float | int | None) -> datetime | None:
    """A unix timestamp as naive UTC, or None."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(float(seconds), UTC).replace(tzinfo=None)


_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case


def new_id(prefix: str) -> str:
    """A time-sortable id like ``run_01jd3k...``: 48-bit milliseconds then 40 random bits."""
    value = (int(time.time() * 1000) << 40) | secrets.randbits(40)
    chars = []
    for _ in range(18):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"


def actor() -> str:
    """Who is acting: TUNEOPS_ACTOR, else user@host."""
    explicit = os.environ.get("TUNEOPS_ACTOR")
    if explicit:
        return explicit
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
