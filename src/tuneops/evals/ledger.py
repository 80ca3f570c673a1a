"""Queries over stored evals: find one by id, list them, read their per-example results.

The helpers that read a row (``scores``, ``as_dict``, ...) take ORM rows and ``listings.Record`` alike;
this module imports SQLAlchemy only inside the queries, so `tuneops eval list` never loads it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tuneops.errors import TuneopsError

if TYPE_CHECKING:
    from sqlmodel import Session

    from tuneops.store.eval_tables import EvalResultRow, EvalRunRow


class EvalNotFound(TuneopsError, LookupError):
    """No eval with that id (or prefix) is in the ledger."""

    exit_code = 2


def get_eval(session: Session, eval_id: str) -> EvalRunRow:
    """The eval with this id or unique id prefix (at least 6 characters).

    Raises EvalNotFound when nothing matches, TuneopsError when a prefix is ambiguous.
    """
    from sqlalchemy import select

    from tuneops.store.eval_tables import EvalRunRow

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
               limit: int = 50) -> Sequence[Any]:
    """Evals newest first (``tuneops.store.listings.list_evals`` inside this session's transaction)."""
    from tuneops.store import listings
    from tuneops.store.sql import of_session

    return listings.list_evals(of_session(session), job=job, model=model, limit=limit)


def results(session: Session, eval_id: str) -> Sequence[EvalResultRow]:
    """An eval's per-example results in set order."""
    from sqlalchemy import select

    from tuneops.store.eval_tables import EvalResultRow

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
