"""The audit trail: append-only, hash-chained events written in the same transaction as the change.

Payloads are built only from allow-listed detail keys, so a secret cannot reach the trail by
accident: an unknown key is a programming error, not something to store. The chain itself (hashing,
scrubbing, appending) is ``tuneops.audit.chain``; this module appends inside ORM sessions. Checking the
chain (``verify``, ``anchor``) is ``tuneops.audit.verification``; queries and exports are
``tuneops.audit.query``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session

from tuneops.audit import chain
from tuneops.audit.chain import ALLOWED_DETAILS, GENESIS, REDACTED, Event, canonical, event_hash, event_hash_iso, redact
from tuneops.clock import actor as default_actor
from tuneops.clock import utcnow
from tuneops.store.sql import of_session
from tuneops.store.tables import AuditEventRow

__all__ = ["ALLOWED_DETAILS", "GENESIS", "REDACTED", "append", "canonical", "event_hash", "event_hash_iso",
           "redact"]


def append(session: Session, action: str, subject_type: str, subject_id: str, *,
           job_name: str | None = None, details: Mapping[str, Any] | None = None,
           actor: str | None = None, at: datetime | None = None) -> AuditEventRow:
    """Append one event to the chain inside the caller's write transaction."""
    event = Event(action, subject_type, str(subject_id), None if job_name is None else str(job_name), details)
    who = actor or default_actor()
    (done,) = chain.append(of_session(session), [event], actor=who, at=at or utcnow())
    return AuditEventRow(seq=done.seq, at=done.at, actor=who, action=action, subject_type=subject_type,
                         subject_id=event.subject_id, job_name=event.job_name, details=done.details,
                         prev_hash=done.prev_hash, hash=done.hash)
