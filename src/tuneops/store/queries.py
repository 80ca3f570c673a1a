"""Every query the rest of tuneops runs against the ledger lives here, named by what it answers."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from tuneops.clock import utcnow
from tuneops.errors import RunNotFound, TuneopsError
from tuneops.store.serving_tables import DeploymentRow
from tuneops.store.states import LOCAL_STATES, TERMINAL_STATES  # noqa: F401  (imported from here too)
from tuneops.store.tables import ModelRow, RunEventRow, RunRow, UploadRow


def get_run(session: Session, run_id: str) -> RunRow:
    """The run with this id, or with this unique id prefix (at least 6 characters).

    Raises RunNotFound when nothing matches and TuneopsError when a prefix is ambiguous.
    """
    row = session.get(RunRow, run_id)
    if row is not None:
        return row
    if len(run_id) >= 6:
        rows = session.exec(select(RunRow).where(RunRow.id.like(f"{run_id}%")).limit(2)).scalars().all()  # type: ignore
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise TuneopsError(f"run id prefix {run_id!r} is ambiguous; give more characters")
    raise RunNotFound(run_id)


def deployment_for_run(session: Session, run_id: str) -> DeploymentRow | None:
    """A run's deployment row, if any."""
    return session.exec(select(DeploymentRow).where(DeploymentRow.run_id == run_id)).scalars().first()  # type: ignore


def list_runs(session: Session, *, job: str | None = None, provider: str | None = None,
              state: str | None = None, active: bool = False, limit: int = 50) -> Sequence[Any]:
    """Runs newest first (``tuneops.store.listings.list_runs`` inside this session's transaction)."""
    from tuneops.store import listings
    from tuneops.store.sql import of_session

    return listings.list_runs(of_session(session), job=job, provider=provider, state=state, active=active,
                              limit=limit)


def unfinished_runs(session: Session) -> Sequence[RunRow]:
    """Every run not yet in a terminal state, oldest first."""
    stmt = (select(RunRow).where(RunRow.state.not_in(TERMINAL_STATES))  # type: ignore[attr-defined]
            .order_by(RunRow.created_at))
    return session.exec(stmt).scalars().all()  # type: ignore[call-overload]


def find_upload(session: Session, provider: str, sha256: str, location: str = "") -> UploadRow | None:
    """The upload of these exact bytes at this provider and location (endpoint/account), if any."""
    stmt = select(UploadRow).where(UploadRow.provider == provider, UploadRow.account == location,
                                   UploadRow.sha256 == sha256)
    return session.exec(stmt).scalars().first()  # type: ignore[call-overload]


def open_run_for_intent(session: Session, intent_key: str) -> RunRow | None:
    """The unfinished run of this intent, if any (there is at most one)."""
    stmt = select(RunRow).where(RunRow.intent_key == intent_key,
                                RunRow.state.not_in(TERMINAL_STATES))  # type: ignore[attr-defined]
    return session.exec(stmt).scalars().first()  # type: ignore[call-overload]


def last_run_for_intent(session: Session, intent_key: str) -> RunRow | None:
    """The newest run of this intent, finished or not."""
    stmt = (select(RunRow).where(RunRow.intent_key == intent_key)
            .order_by(RunRow.created_at.desc(), RunRow.id.desc()).limit(1))  # type: ignore[attr-defined]
    return session.exec(stmt).scalars().first()  # type: ignore[call-overload]


def model_by_provider_id(session: Session, provider: str, provider_model_id: str) -> ModelRow | None:
    """The model row holding this provider model id, if the ledger has one."""
    stmt = select(ModelRow).where(ModelRow.provider == provider, ModelRow.provider_model_id == provider_model_id)
    return session.exec(stmt).scalars().first()  # type: ignore[call-overload]


def add_event(session: Session, run_id: str, kind: str, message: str, *, data: Any = None,
              provider_event_id: str | None = None, at: datetime | None = None) -> bool:
    """Record one run event; a provider event already stored (same id) is skipped. True if added."""
    if provider_event_id is not None:
        exists = session.exec(select(RunEventRow.id).where(  # type: ignore[call-overload]
            RunEventRow.run_id == run_id, RunEventRow.provider_event_id == provider_event_id)).first()
        if exists:
            return False
    from tuneops.audit import redact  # provider text may quote a key back: never store it

    row = RunEventRow(run_id=run_id, at=at or utcnow(), kind=kind, message=redact(message),
                      provider_event_id=provider_event_id,
                      data=redact(json.dumps(data, default=str)) if data is not None else None)
    if provider_event_id is None:
        session.add(row)
        session.flush()
        return True
    try:
        # A savepoint: losing the race to a concurrent syncer undoes this row only, not the transaction.
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False
    return True


def run_events(session: Session, run_id: str, *, kinds: Sequence[str] | None = None,
               limit: int | None = None) -> Sequence[RunEventRow]:
    """A run's events, oldest first (the last ``limit`` when given)."""
    stmt = select(RunEventRow).where(RunEventRow.run_id == run_id)
    if kinds:
        stmt = stmt.where(RunEventRow.kind.in_(kinds))  # type: ignore[attr-defined]
    if limit:
        stmt = stmt.order_by(RunEventRow.id.desc()).limit(limit)  # type: ignore[union-attr]
        return list(reversed(session.exec(stmt).scalars().all()))  # type: ignore[call-overload]
    return session.exec(stmt.order_by(RunEventRow.id)).scalars().all()  # type: ignore[call-overload, union-attr]


def checkpoints(session: Session, run_id: str) -> Sequence[Any]:
    """A run's checkpoints by step."""
    from tuneops.store.lifecycle_tables import CheckpointRow

    stmt = select(CheckpointRow).where(CheckpointRow.run_id == run_id).order_by(CheckpointRow.step)
    return session.exec(stmt).scalars().all()  # type: ignore[call-overload]


def model_for_run(session: Session, run_id: str) -> ModelRow | None:
    """The model a run produced, if any."""
    return session.exec(select(ModelRow).where(ModelRow.run_id == run_id)).scalars().first()  # type: ignore


def month_spend_microusd(session: Session, since: datetime, job: str | None = None) -> int:
    """Money committed since ``since`` (see ``tuneops.store.spend``), inside this session's transaction."""
    from tuneops.store.spend import month_spend_microusd as spend
    from tuneops.store.sql import of_session

    return spend(of_session(session), since, job)


def metric_points(session: Session, run_id: str) -> Sequence[Any]:
    """A run's metric points (MetricPointRow), by step; empty before the provider reports any."""
    from tuneops.store.lifecycle_tables import MetricPointRow

    stmt = select(MetricPointRow).where(MetricPointRow.run_id == run_id).order_by(MetricPointRow.step)
    return session.exec(stmt).scalars().all()  # type: ignore[call-overload]


def run_by_provider_job(session: Session, providers: Sequence[str], provider_job_id: str) -> RunRow | None:
    """The run whose provider job this is, at any of ``providers`` (the newest if several); else None."""
    stmt = (select(RunRow).where(RunRow.provider.in_(providers),  # type: ignore[attr-defined]
                                 RunRow.provider_job_id == provider_job_id)
            .order_by(RunRow.created_at.desc()).limit(1))  # type: ignore[attr-defined]
    return session.exec(stmt).scalars().first()  # type: ignore[call-overload]


def has_provider_event(session: Session, run_id: str, provider_event_id: str) -> bool:
    """Whether this run already recorded the provider event (or webhook delivery) with this id."""
    stmt = select(RunEventRow.id).where(RunEventRow.run_id == run_id,
                                        RunEventRow.provider_event_id == provider_event_id)
    return session.exec(stmt).first() is not None  # type: ignore[call-overload]


def serving_deadlines(session: Session, *, within_days: int = 30,
                      now: datetime | None = None) -> list[tuple[Any, str, datetime]]:
    """Models that (or whose base model) stop serving within ``within_days`` (see ``listings``)."""
    from tuneops.store import listings
    from tuneops.store.sql import of_session

    return listings.serving_deadlines(of_session(session), within_days=within_days, now=now)
