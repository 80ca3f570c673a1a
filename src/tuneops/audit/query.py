"""Reading the audit trail: filters (job, provider, actor, action, time window, status), listings
and exports as JSON lines or CSV. Writing and verifying the chain is ``tuneops.audit``."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

from tuneops.clock import utcnow
from tuneops.errors import TuneopsError

if TYPE_CHECKING:
    from tuneops.store.reader import Reader

_RELATIVE = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$", re.I)
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
EXPORT_FORMATS = ("jsonl", "csv")
EXPORT_COLUMNS = ("seq", "at", "actor", "action", "subject_type", "subject_id", "job_name", "details",
                  "prev_hash", "hash")


def parse_when(value: str, *, now: datetime | None = None, option: str = "--since") -> datetime:
    """A naive UTC time from ``30d``/``12h``/``45m``/``2w`` (ago), an ISO date, or an ISO date-time."""
    match = _RELATIVE.match(value)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        try:
            return (now or utcnow()) - timedelta(**{_UNITS[unit]: amount})
        except (OverflowError, ValueError):  # before year 1: no event is that old
            raise TuneopsError(f"{option} {value!r}: too long ago; give an age of at most a few thousand years, "
                               "or a date like 2026-01-31") from None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise TuneopsError(f"{option} {value!r}: not a time; give an age like 30d, 12h or 45m, a date like "
                           "2026-01-31, or a date-time like 2026-01-31T14:00:00Z") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events to read; every field left None matches everything."""

    job: str | None = None
    provider: str | None = None
    actor: str | None = None
    action: str | None = None  # exact, or a glob with * ("run.*")
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None  # the state an event moved its subject to (details.to_state)
    subject: str | None = None  # a run id, model id, alias, upload file id

    @classmethod
    def from_options(cls, *, job: str | None = None, provider: str | None = None, actor: str | None = None,
                     action: str | None = None, since: str | None = None, until: str | None = None,
                     status: str | None = None, subject: str | None = None,
                     now: datetime | None = None) -> AuditFilter:
        """A filter from command-line strings (times as in ``parse_when``)."""
        now = now or utcnow()
        return cls(job=job, provider=provider, actor=actor, action=action,
                   since=parse_when(since, now=now) if since else None,
                   until=parse_when(until, now=now, option="--until") if until else None,
                   status=status, subject=subject)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit event as read back (the columns of ``audit_event``)."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject_type: str
    subject_id: str
    job_name: str | None
    details: str  # canonical JSON, exactly as hashed
    prev_hash: str
    hash: str


_SELECT = "SELECT " + ", ".join(EXPORT_COLUMNS) + " FROM audit_event"


def _detail_sql(dialect: str, key: str) -> str:
    # ``key`` is one of ours (provider, to_state), never user input.
    if dialect == "postgresql":
        return f"(details::jsonb ->> '{key}')"
    return f"CAST(json_extract(details, '$.{key}') AS TEXT)"


def _where(reader: Reader, flt: AuditFilter) -> tuple[list[str], list[Any]]:
    """SQL conditions and their parameters for a filter."""
    conds: list[str] = []
    params: list[Any] = []

    def add(cond: str, value: Any) -> None:
        conds.append(cond)
        params.append(value)

    if flt.job:
        add("job_name = ?", flt.job)
    if flt.actor:
        add("actor = ?", flt.actor)
    if flt.action:
        if "*" in flt.action:
            pattern = flt.action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
            add("action LIKE ? ESCAPE '\\'", pattern)
        else:
            add("action = ?", flt.action)
    if flt.since:
        add("at >= ?", reader.time_param(flt.since))
    if flt.until:
        add("at < ?", reader.time_param(flt.until))
    if flt.subject:
        add("subject_id = ?", flt.subject)
    if flt.provider:
        add(f"{_detail_sql(reader.dialect, 'provider')} = ?", flt.provider)
    if flt.status:
        add(f"{_detail_sql(reader.dialect, 'to_state')} = ?", flt.status)
    return conds, params


def _event(reader: Reader, row: tuple[Any, ...]) -> AuditEvent:
    return AuditEvent(row[0], reader.time(row[1]), *row[2:])


def query(reader: Reader, flt: AuditFilter | None = None, *, limit: int | None = 50,
          newest_first: bool = True) -> list[AuditEvent]:
    """Audit events matching ``flt``, newest first by default; ``limit`` None or 0 for all.

    Ordered by time then sequence number, so the (job_name, at) and (at) indexes answer a
    "job X in the last 30 days" question without sorting the whole window.
    """
    conds, params = _where(reader, flt or AuditFilter())
    sql = _SELECT + (" WHERE " + " AND ".join(conds) if conds else "")
    sql += " ORDER BY at DESC, seq DESC" if newest_first else " ORDER BY at, seq"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return [_event(reader, r) for r in reader.rows(sql, params)]


def iter_events(reader: Reader, flt: AuditFilter | None = None, *, batch: int = 5_000) -> Iterator[AuditEvent]:
    """Every matching event in chain order, read in batches so an export of millions stays small."""
    conds, params = _where(reader, flt or AuditFilter())
    sql = _SELECT + " WHERE " + " AND ".join([*conds, "seq > ?"]) + " ORDER BY seq LIMIT ?"
    after = 0
    while True:
        rows = reader.rows(sql, [*params, after, batch])
        yield from (_event(reader, r) for r in rows)
        if len(rows) < batch:
            return
        after = rows[-1][0]


def event_dict(row: AuditEvent) -> dict[str, Any]:
    """An event as JSON-able data with its details decoded (the shape of --json and jsonl exports)."""
    return {"seq": row.seq, "at": row.at.isoformat(timespec="microseconds") + "Z", "actor": row.actor,
            "action": row.action, "subject_type": row.subject_type, "subject_id": row.subject_id,
            "job_name": row.job_name, "details": json.loads(row.details), "prev_hash": row.prev_hash,
            "hash": row.hash}


def export(reader: Reader, out: TextIO, fmt: str = "jsonl", flt: AuditFilter | None = None) -> int:
    """Write matching events to ``out`` as JSON lines or CSV, in chain order; returns how many.

    Each record keeps its hashes (and details exactly as hashed, in CSV), so a reviewer can
    recompute the chain from an unfiltered export without access to the ledger.
    """
    check_format(fmt)
    count = 0
    writer = None
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
    for row in iter_events(reader, flt):
        if writer is not None:
            writer.writerow([row.seq, row.at.isoformat(timespec="microseconds") + "Z", row.actor, row.action,
                             row.subject_type, row.subject_id, row.job_name or "", row.details,
                             row.prev_hash, row.hash])
        else:
            out.write(json.dumps(event_dict(row), ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count


def check_format(fmt: str) -> None:
    """Refuse an export format we do not write."""
    if fmt not in EXPORT_FORMATS:
        raise TuneopsError(f"--format {fmt!r}: choose one of {', '.join(EXPORT_FORMATS)}")


def summary(row: AuditEvent) -> str:
    """The few details of an event a person scans for in a listing."""
    keys = ("to_state", "provider", "provider_job_id", "provider_model_id", "alias", "model", "score",
            "reason", "estimate_microusd", "cost_microusd", "error_code")
    details = json.loads(row.details)
    parts = []
    for key in keys:
        if key in details:
            value = details[key]
            if key.endswith("_microusd") and isinstance(value, int):  # shown in dollars, named without the unit
                key, value = key.removesuffix("_microusd"), f"${value / 1_000_000:,.4f}"
            parts.append(f"{key}={value}")
    return ", ".join(parts)
