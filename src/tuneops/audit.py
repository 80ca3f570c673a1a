"""The audit trail: append-only, hash-chained events written in the same transaction as the change.

Payloads are built only from allow-listed detail keys, so a secret cannot reach the trail by
accident: an unknown key is a programming error, not something to store. Appends lock the one-row
chain head, so they are serialized on SQLite and PostgreSQL alike; ``verify`` recomputes the chain
and names the first broken link; an ``Anchor`` kept elsewhere shows truncation of the chain's end.
Queries and exports live in ``tuneops.audit_query``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring as _q  # json.dumps's string encoder (ensure_ascii=False)
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlmodel import Session

from tuneops.clock import actor as default_actor
from tuneops.clock import utcnow
from tuneops.store.audit_tables import HEAD_ID, AuditHeadRow
from tuneops.store.tables import AuditEventRow

if TYPE_CHECKING:
    from tuneops.store import Store

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
    "fire_key", "inference_calls", "cached", "deployment", "run_id", "note",
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
    return _hash(prev_hash, seq, at.isoformat(timespec="microseconds"), actor, action, subject_type,
                 subject_id, job_name, details)


def _hash(prev_hash: str, seq: int, at_iso: str, actor: str, action: str, subject_type: str,
          subject_id: str, job_name: str | None, details: str) -> str:
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


# -- verify and anchor ---------------------------------------------------------------------------

_COLUMNS = ("seq", "at", "actor", "action", "subject_type", "subject_id", "job_name", "details",
            "prev_hash", "hash")


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
            value = Path(value).read_text().strip()
        try:
            if value.startswith("{"):
                data = json.loads(value)
                return cls(int(data["seq"]), str(data["hash"]))
            seq, _, digest = value.partition(":")
            if len(digest) != 64 or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ValueError("the hash must be 64 hex digits")
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

    @property
    def rate(self) -> float:
        """Events verified per second."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


class _Broken(Exception):
    def __init__(self, seq: int, problem: str):
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


def verify(store: Store, *, anchor: Anchor | None = None, batch: int = 20_000) -> ChainReport:
    """Recompute the whole chain from the genesis hash; report the first broken link, if any.

    Checks every event's sequence number (no gaps), its link to the previous hash and its own hash,
    that the head row names the last event, and, given an anchor, that the anchored event is still
    there with the same hash (so removing events from the end is noticed).
    """
    import time

    start = time.perf_counter()
    expected, prev, count = 1, GENESIS, 0
    with _snapshot(store) as conn:
        head = conn.execute(select(AuditHeadRow.seq, AuditHeadRow.hash)
                            .where(AuditHeadRow.id == HEAD_ID)).first()
        try:
            for rows in _batches(conn, batch):
                for seq, at, actor, action, stype, sid, job, details, prev_hash, digest in rows:
                    if seq != expected:
                        raise _Broken(expected, f"event {expected} is missing (the chain jumps from "
                                                f"{expected - 1} to {seq})")
                    if prev_hash != prev:
                        raise _Broken(seq, f"event {seq} does not link to event {seq - 1} (its prev_hash "
                                           "differs from that event's hash: removed, reordered or replaced)")
                    # SQLite hands back SQLAlchemy's text form "YYYY-MM-DD HH:MM:SS.ffffff"; PostgreSQL
                    # a datetime. Either way the hash covers the ISO form with microseconds.
                    iso = (at.replace(" ", "T", 1) if len(at) == 26 else _iso(at)) if at.__class__ is str \
                        else at.isoformat(timespec="microseconds")
                    if _hash(prev, seq, iso, actor, action, stype, sid, job, details) != digest:
                        raise _Broken(seq, f"event {seq} was changed (its hash does not match its content)")
                    prev, expected, count = digest, seq + 1, count + 1
            last = expected - 1
            if head is not None:
                _check_head(int(head[0]), str(head[1]), last, prev)
            if anchor is not None:
                _check_anchor(conn, anchor, last)
        except _Broken as broken:
            return ChainReport(False, count, expected - 1, prev, broken.seq, broken.problem, anchor,
                               time.perf_counter() - start)
    return ChainReport(True, count, expected - 1, prev, anchor=anchor, seconds=time.perf_counter() - start)


def _batches(conn: Any, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every event from seq 1 up, in order and in batches, straight from the driver.

    Bypasses SQLAlchemy's row processing, which costs more than the hashing at a million events.
    """
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = f"SELECT {', '.join(_COLUMNS)} FROM audit_event WHERE seq > {mark} ORDER BY seq LIMIT {mark}"
    cursor = conn.connection.driver_connection.cursor()
    after = 0
    try:
        while True:
            cursor.execute(sql, (after, batch))
            rows = cursor.fetchall()
            if rows:
                yield rows
            if len(rows) < batch:
                return
            after = rows[-1][0]
    finally:
        cursor.close()


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


def _check_anchor(conn: Any, anchor: Anchor, last: int) -> None:
    if anchor.seq == 0:
        return
    if anchor.seq > last:
        raise _Broken(last + 1, f"the chain ends at event {last} but the anchor names event {anchor.seq}: "
                                "events were removed from the end")
    row = conn.execute(select(AuditEventRow.hash).where(AuditEventRow.seq == anchor.seq)).first()
    if row is None or row[0] != anchor.hash:
        raise _Broken(anchor.seq, f"event {anchor.seq} differs from the anchor: the chain up to it was "
                                  "rewritten")


@contextmanager
def _snapshot(store: Store) -> Iterator[Any]:
    """A read transaction that sees one consistent state of the chain while appends go on."""
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def anchor(store: Store) -> Anchor:
    """The chain's current head as an anchor (seq 0 and the genesis hash for an empty chain)."""
    with store.read() as s:
        head = s.execute(select(AuditHeadRow.seq, AuditHeadRow.hash).where(AuditHeadRow.id == HEAD_ID)).first()
        if head is None or head[0] == 0:
            return Anchor(0, GENESIS, None)
        at = s.execute(select(AuditEventRow.at).where(AuditEventRow.seq == head[0])).scalar()
        return Anchor(int(head[0]), str(head[1]), at)
