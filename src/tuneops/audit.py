"""The audit trail: append-only, hash-chained events written in the same transaction as the change.

Payloads are built only from allow-listed detail keys, so a secret cannot reach the trail by
accident: an unknown key is a programming error, not something to store. Appends lock the one-row
chain head, so they are serialized on SQLite and PostgreSQL alike. Checking the chain (``verify``,
``anchor``) is ``tuneops.audit_verify``; queries and exports are ``tuneops.audit_query``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from json.encoder import encode_basestring as _q  # json.dumps's string encoder (ensure_ascii=False)
from typing import Any

from sqlalchemy import select, update
from sqlmodel import Session

from tuneops.clock import actor as default_actor
from tuneops.clock import utcnow
from tuneops.store.audit_tables import HEAD_ID, AuditHeadRow
from tuneops.store.tables import AuditEventRow

GENESIS = "0" * 64

# Every key an audit payload may carry. Values must be JSON scalars or lists/dicts of them.
ALLOWED_DETAILS = frozenset({
    "spec_path", "spec_sha256", "dataset_sha256", "validation_sha256", "examples", "tokens",
    "hyperparameters", "method", "base_model", "provider", "provider_job_id", "provider_file_id",
    "provider_model_id", "provider_status", "state", "from_state", "to_state", "idempotency_key",
    "estimate_microusd", "cost_microusd", "trained_tokens", "budget_microusd", "month_spent_microusd",
    "error_code", "error_message", "trigger", "reason", "bytes", "matches", "cancelled", "adopted",
    "eval_id", "eval_set", "metric", "score", "scores", "examples_scored", "alias", "model",
    "previous_model", "candidate_score", "holder_score", "base_score", "margin", "rule", "decision",
    "fire_key", "inference_calls", "cached", "deployment", "run_id", "note", "shutdown_at", "base_shutdown_at",
})


# Environment variables whose values are credentials: never let their values into the trail.
_SECRET_NAME = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|CREDENTIALS?|ACCESS_KEY)", re.I)
# Key-shaped strings (OpenAI/Anthropic-style sk-..., AWS access key ids, bearer tokens).
_SECRET_SHAPE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{12,}|AKIA[0-9A-Z]{16}|Bearer\s+[A-Za-z0-9._\-]{12,})")
REDACTED = "[redacted]"


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The canonical encoding hashed into the chain: sorted-key compact JSON, UTF-8."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode()


def event_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str, subject_type: str,
               subject_id: str, job_name: str | None, details: str) -> str:
    """The hash of one event over its fields and the previous event's hash."""
    return event_hash_iso(prev_hash, seq, at.isoformat(timespec="microseconds"), actor, action, subject_type,
                 subject_id, job_name, details)


def event_hash_iso(prev_hash: str, seq: int, at_iso: str, actor: str, action: str, subject_type: str,
          subject_id: str, job_name: str | None, details: str) -> str:
    """``event_hash`` with the time already in ISO form (what verify reads from the database)."""
    # Byte for byte what canonical() makes of these nine fields (keys in sorted order), written out
    # because verify runs this a million times; tests/audit/test_encoding.py holds the two together.
    body = (f'{{"action":{_q(action)},"actor":{_q(actor)},"at":{_q(at_iso)},"details":{_q(details)},'
            f'"job_name":{"null" if job_name is None else _q(job_name)},"prev_hash":{_q(prev_hash)},'
            f'"seq":{int(seq)},"subject_id":{_q(subject_id)},"subject_type":{_q(subject_type)}}}')
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def redact(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with credential values from the environment and key-shaped strings replaced."""
    for value in secrets if secrets is not None else _secret_values():
        text = text.replace(value, REDACTED)
    return _SECRET_SHAPE.sub(REDACTED, text)


def _secret_values() -> list[str]:
    # Short values ("1", "true") would redact half the payload and protect nothing.
    return sorted({v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 8},
                  key=len, reverse=True)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, Mapping):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v, secrets) for v in value]
    return value


def _clean(details: Mapping[str, Any]) -> str:
    unknown = set(details) - ALLOWED_DETAILS
    if unknown:
        raise ValueError(f"audit detail keys not allow-listed: {sorted(unknown)}")
    # Free-text fields (provider error messages, reasons) may echo a key back; scrub them too.
    secrets = _secret_values()
    return canonical({k: _scrub(v, secrets) for k, v in details.items() if v is not None}).decode()


def _lock_head(session: Session) -> tuple[int, str]:
    """The chain head (seq, hash), locked until the caller's transaction ends."""
    # FOR UPDATE on the one head row serializes appenders on PostgreSQL; on SQLite it renders as
    # nothing and BEGIN IMMEDIATE (Store.write) already holds the database's single write lock.
    stmt = select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID).with_for_update()
    head = session.execute(stmt).first()
    if head is None:
        _restore_head(session)
        head = session.execute(stmt).first()
    return int(head[0]), str(head[1])  # type: ignore[index]


def _restore_head(session: Session) -> None:
    """Recreate a missing head row from the newest event (a concurrent appender may win the race)."""
    last = session.execute(select(AuditEventRow.seq, AuditEventRow.hash)
                           .order_by(AuditEventRow.seq.desc()).limit(1)).first()  # type: ignore[union-attr]
    values = {"id": HEAD_ID, "seq": last[0] if last else 0, "hash": last[1] if last else GENESIS}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    session.execute(insert(AuditHeadRow).values(**values).on_conflict_do_nothing())


def append(session: Session, action: str, subject_type: str, subject_id: str, *,
           job_name: str | None = None, details: Mapping[str, Any] | None = None,
           actor: str | None = None, at: datetime | None = None) -> AuditEventRow:
    """Append one event to the chain inside the caller's write transaction."""
    payload = _clean(details or {})
    # Hash exactly what the text columns will hand back (an int id would come back as a string).
    subject_id, job_name = str(subject_id), None if job_name is None else str(job_name)
    head_seq, prev = _lock_head(session)
    seq = head_seq + 1
    at = at or utcnow()
    if at.tzinfo is not None:  # the columns hold naive UTC; hash what they will hand back
        at = at.astimezone(UTC).replace(tzinfo=None)
    who = actor or default_actor()
    row = AuditEventRow(
        seq=seq, at=at, actor=who, action=action, subject_type=subject_type, subject_id=subject_id,
        job_name=job_name, details=payload, prev_hash=prev,
        hash=event_hash(prev, seq, at, who, action, subject_type, subject_id, job_name, payload),
    )
    session.add(row)
    session.flush()
    session.execute(update(AuditHeadRow).where(AuditHeadRow.id == HEAD_ID)  # type: ignore[arg-type]
                    .values(seq=seq, hash=row.hash))
    return row


# Checking the chain lives in tuneops.audit_verify (which imports this module); its public names
# are reachable from here too, loaded on first use.
_VERIFY_NAMES = ("Anchor", "ChainReport", "anchor", "verify")


def __getattr__(name: str) -> Any:
    if name in _VERIFY_NAMES:
        from tuneops import audit_verify

        return getattr(audit_verify, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
