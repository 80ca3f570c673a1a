"""Queries over stored evals: find one by id, list them, read their per-example results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from tuneops.errors import TuneopsError
from tuneops.store.eval_tables import EvalResultRow, EvalRunRow


class EvalNotFound(TuneopsError, LookupError):
    """No eval with that id (or prefix) is in the ledger."""

    exit_code = 2


def get_eval(session: Session, eval_id: str) -> EvalRunRow:
    """The eval with this id or unique id prefix (at least 6 characters).

    Raises EvalNotFound when nothing matches, TuneopsError when a prefix is ambiguous.
    """
    row = session.get(EvalRunRow, eval_id)
    if row is not None:
        return row
    if len(eval_id) >= 6:
        stmt = select(EvalRunRow).where(EvalRunRow.id.like(f"{eval_id}%")).limit(2)  # type: ignore[attr-defined]
        rows = session.exec(stmt).scalars().all()  # type: ignore[call-overload]
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            raise TuneopsError(f"eval id prefix {eval_id!r} is ambiguous; give more characters")
    raise EvalNotFound(f"no eval with id {eval_id!r}; `tuneops eval list` shows the evals in this ledger")


def list_evals(session: Session, *, job: str | None = None, model: str | None = None,
               limit: int = 50) -> Sequence[EvalRunRow]:
    """Evals newest first, optionally only one job's or one model's."""
    stmt = select(EvalRunRow).order_by(EvalRunRow.created_at.desc(), EvalRunRow.id.desc())  # type: ignore
    if job:
        stmt = stmt.where(EvalRunRow.job_name == job)
    if model:
        stmt = stmt.where(EvalRunRow.model == model)
    return session.exec(stmt.limit(limit)).scalars().all()  # type: ignore[call-overload]


def latest_evals(session: Session, provider: str, models: Sequence[str]) -> dict[str, EvalRunRow]:
    """The newest eval of each of ``models`` at ``provider`` (models never evaluated are absent)."""
    if not models:
        return {}
    stmt = (select(EvalRunRow).where(EvalRunRow.provider == provider, EvalRunRow.model.in_(models))  # type: ignore
            .order_by(EvalRunRow.created_at, EvalRunRow.id))
    return {row.model: row for row in session.exec(stmt).scalars()}  # type: ignore[call-overload]


def results(session: Session, eval_id: str) -> Sequence[EvalResultRow]:
    """An eval's per-example results in set order."""
    stmt = select(EvalResultRow).where(EvalResultRow.eval_id == eval_id).order_by(EvalResultRow.position)
    return session.exec(stmt).scalars().all()  # type: ignore[call-overload]


def scores(row: EvalRunRow) -> dict[str, float]:
    """An eval's mean score per metric."""
    return dict(json.loads(row.scores))


def thresholds(row: EvalRunRow) -> dict[str, float]:
    """An eval's metrics with the score at which an example passes."""
    return dict(json.loads(row.metrics))


def report(row: EvalRunRow) -> dict[str, Any] | None:
    """An eval's classification report, when its metrics include label_accuracy."""
    return json.loads(row.report) if row.report else None


def as_dict(row: EvalRunRow) -> dict[str, Any]:
    """An eval as JSON-able data (the shape of `tuneops eval list --json`)."""
    data = row.model_dump(exclude={"scores", "metrics", "report", "params"})
    data |= {"scores": scores(row), "metrics": thresholds(row), "report": report(row),
             "params": json.loads(row.params)}
    return data
