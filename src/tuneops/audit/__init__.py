"""The audit trail: append-only, hash-chained events, checked, queried, exported and traced to lineage.

- ``chain``: hashing, scrubbing and the one append (plain SQL; no ORM, so the light scheduler tick uses it);
- ``trail``: ``append(session, ...)`` inside an ORM transaction, next to the change it records;
- ``verification``: recompute the chain, anchors; ``query``: filters, listings, exports; ``lineage``.

``from tuneops import audit; audit.append(...)`` keeps working: the names below load on first use, so
importing ``tuneops.audit.chain`` does not pull SQLAlchemy in.
"""

from __future__ import annotations

from typing import Any

_TRAIL_NAMES = ("ALLOWED_DETAILS", "GENESIS", "REDACTED", "append", "canonical", "event_hash", "event_hash_iso",
                "redact")
_VERIFY_NAMES = ("Anchor", "ChainReport", "anchor", "verify")

__all__ = [*_TRAIL_NAMES, *_VERIFY_NAMES]


def __getattr__(name: str) -> Any:
    if name in _TRAIL_NAMES:
        from tuneops.audit import trail

        return getattr(trail, name)
    if name in _VERIFY_NAMES:
        from tuneops.audit import verification

        return getattr(verification, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
