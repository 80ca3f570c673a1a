"""The hash chain itself: canonical payloads, event hashes, scrubbing, and appending events.

Everything here is plain SQL through ``tuneops.store.sql`` (no SQLAlchemy), so the scheduler's tick
can record decisions without loading the ORM; ORM code appends through ``tuneops.audit.append``,
which runs the same statements inside its session's transaction. Appends lock the one-row chain head,
so they are serialized on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring as _q  # json.dumps's string encoder (ensure_ascii=False)
from typing import Any

from tuneops.netsafe import scrub_urls
from tuneops.store.sql import Sql

HEAD_ID = 1  # the chain head's row in audit_head
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
    "intent_key", "again_reason", "location", "replaces", "provider_note",
    "provider_deployment_id", "endpoint", "mode", "capacity", "hourly_cost_microusd", "undeploy_after", "hours",
    "holder_lift_ci", "base_lift_ci", "pilot_run_id", "pilot_examples", "lift", "lift_ci",
    "replaced_by", "previous_undeploy_after",
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
    return _SECRET_SHAPE.sub(REDACTED, scrub_urls(text))  # and no user:password@ of a URL


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


def _clean(details: Mapping[str, Any], secrets: list[str]) -> str:
    unknown = set(details) - ALLOWED_DETAILS
    if unknown:
        raise ValueError(f"audit detail keys not allow-listed: {sorted(unknown)}")
    # Free-text fields (provider error messages, reasons) may echo a key back; scrub them too.
    return canonical({k: _scrub(v, secrets) for k, v in details.items() if v is not None}).decode()


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event to append."""

    action: str
    subject_type: str
    subject_id: str
    job_name: str | None = None
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Appended:
    """An event as it was written to the chain."""

    seq: int
    at: datetime
    details: str
    prev_hash: str
    hash: str


def naive_utc(at: datetime) -> datetime:
    """``at`` as the naive UTC time the columns hold (and the hash covers)."""
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


def lock_head(db: Sql) -> tuple[int, str]:
    """The chain head (seq, hash), locked until the caller's transaction ends."""
    # FOR UPDATE on the one head row serializes appenders on PostgreSQL; SQLite has no row locks and
    # BEGIN IMMEDIATE already holds the database's single write lock.
    sql = f"SELECT seq, hash FROM audit_head WHERE id = ?{db.for_update}"
    head = db.rows(sql, (HEAD_ID,))
    if not head:
        # Recreate a missing head row from the newest event (a concurrent appender may win the race).
        last = db.rows("SELECT seq, hash FROM audit_event ORDER BY seq DESC LIMIT 1")
        seq, digest = last[0] if last else (0, GENESIS)
        db.execute("INSERT INTO audit_head (id, seq, hash) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                   (HEAD_ID, seq, digest))
        head = db.rows(sql, (HEAD_ID,))
    return int(head[0][0]), str(head[0][1])


def append(db: Sql, events: Sequence[Event], *, actor: str, at: datetime) -> list[Appended]:
    """Append events to the chain, in order, inside the caller's write transaction (one head lock, one
    batch insert); what was written."""
    if not events:
        return []
    secrets = _secret_values()
    payloads = [_clean(ev.details or {}, secrets) for ev in events]
    at = naive_utc(at)
    stored_at = db.time_param(at)
    seq, prev = lock_head(db)
    rows, written = [], []
    for ev, payload in zip(events, payloads, strict=True):
        # Hash exactly what the text columns will hand back (an int id would come back as a string).
        subject_id, job = str(ev.subject_id), None if ev.job_name is None else str(ev.job_name)
        seq += 1
        digest = event_hash(prev, seq, at, actor, ev.action, ev.subject_type, subject_id, job, payload)
        rows.append((seq, stored_at, actor, ev.action, ev.subject_type, subject_id, job, payload, prev, digest))
        written.append(Appended(seq, at, payload, prev, digest))
        prev = digest
    db.executemany("INSERT INTO audit_event (seq, at, actor, action, subject_type, subject_id, job_name, details, "
                   "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = ?", (seq, prev, HEAD_ID))
    return written
