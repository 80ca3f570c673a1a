"""Retiring replaced deployments: once no alias points at a model any more, its deployment (often billed
by the hour) is undeployed ``[serve] retire_replaced_after`` hours later, unless an alias points at it
again before then (a rollback). The deadline is the deployment's ``undeploy_after``, so `tuneops sync` and
`tuneops schedule tick` undeploy it like any other deployment whose time is up.

Runs inside the alias move's write transaction: the move and the new deadlines commit together.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from tuneops import audit
from tuneops.store.eval_tables import AliasRow
from tuneops.store.queries import deployment_for_run
from tuneops.store.serving_tables import DeploymentRow
from tuneops.store.tables import ModelRow, RunEventRow, RunRow

SCHEDULED = "deployment.retire_scheduled"
CANCELLED = "deployment.retire_cancelled"
_LIVE = ("deploying", "deployed")


def after_alias_move(s: Session, *, alias: str, holder: ModelRow, replaced_pk: int | None, now: datetime,
                     actor: str) -> list[str]:
    """Schedule the replaced model's deployment for retirement and keep the new holder's; returns notes
    for the user (what will be undeployed when, or that a retirement was called off)."""
    notes = []
    kept = _keep(s, holder, alias, now, actor)
    if kept:
        notes.append(kept)
    if replaced_pk is not None and replaced_pk != holder.id:
        replaced = s.get(ModelRow, replaced_pk)
        if replaced is not None:
            retiring = _retire(s, replaced, alias, holder, now, actor)
            if retiring:
                notes.append(retiring)
    return notes


def retire_after_hours(run: RunRow | None) -> float | None:
    """``[serve] retire_replaced_after`` as the run was submitted with (read leniently: an old spec
    that no longer validates must not stop a promotion)."""
    if run is None:
        return None
    try:
        serve = json.loads(run.spec_json).get("serve") or {}
        hours = serve.get("retire_replaced_after")
    except (ValueError, AttributeError):
        return None
    return float(hours) if isinstance(hours, int | float) and not isinstance(hours, bool) and hours > 0 else None


def _deployment(s: Session, model: ModelRow) -> DeploymentRow | None:
    return deployment_for_run(s, model.run_id) if model.run_id else None


def _retire(s: Session, replaced: ModelRow, alias: str, holder: ModelRow, now: datetime, actor: str) -> str | None:
    hours = retire_after_hours(s.get(RunRow, holder.run_id) if holder.run_id else None)
    row = _deployment(s, replaced)
    if hours is None or row is None or row.state not in _LIVE:
        return None
    serving = _deployment(s, holder)
    if serving is None or serving.state not in _LIVE:
        return None  # the new holder is not served yet: the replaced one may be all that answers
    still = s.exec(select(AliasRow).where(AliasRow.model_pk == replaced.id)).scalars().first()  # type: ignore
    if still is not None:
        return None  # another alias (say, canary) still serves from it
    deadline = now + timedelta(hours=hours)
    if row.undeploy_after is not None and row.undeploy_after <= deadline:
        return None  # it goes sooner anyway ([serve] auto_undeploy_after)
    before = row.undeploy_after
    row.undeploy_after, row.updated_at = deadline, now
    s.add(row)
    message = (f"{replaced.provider_model_id} was replaced at {alias}: its deployment {row.name} is undeployed "
               f"after {deadline:%Y-%m-%d %H:%M} UTC ([serve] retire_replaced_after = {hours:g} h); "
               f"`tuneops models rollback {alias}` before then keeps it")
    s.add(RunEventRow(run_id=row.run_id, at=now, kind="note", message=message))
    audit.append(s, SCHEDULED, "deployment", row.id, job_name=row.job_name, actor=actor, at=now, details={
        "deployment": row.name, "run_id": row.run_id, "model": replaced.provider_model_id, "alias": alias,
        "replaced_by": holder.provider_model_id, "undeploy_after": deadline.isoformat(),
        "previous_undeploy_after": before.isoformat() if before else None, "hours": hours})
    return message


def _keep(s: Session, holder: ModelRow, alias: str, now: datetime, actor: str) -> str | None:
    """Call off a scheduled retirement of the model an alias points at again (its earlier deadline back)."""
    row = _deployment(s, holder)
    if row is not None and row.state in ("undeploying", "undeployed"):
        return (f"{holder.provider_model_id} holds {alias} again, but its deployment {row.name} was undeployed; "
                f"`tuneops deploy {row.run_id}` serves it again (the model it replaced keeps its deployment "
                "until you undeploy it)")
    if row is None or row.state not in _LIVE or row.undeploy_after is None:
        return None
    last = _last_retirement(s, row)
    if last is None or last.get("undeploy_after") != row.undeploy_after.isoformat():
        return None  # its deadline is its own ([serve] auto_undeploy_after), not a retirement's
    before = last.get("previous_undeploy_after")
    row.undeploy_after = datetime.fromisoformat(before) if before else None
    row.updated_at = now
    s.add(row)
    message = (f"{holder.provider_model_id} holds {alias} again: its deployment {row.name} is no longer "
               "retired" + (f" (undeployed after {row.undeploy_after:%Y-%m-%d %H:%M} UTC, as before)"
                            if row.undeploy_after else ""))
    s.add(RunEventRow(run_id=row.run_id, at=now, kind="note", message=message))
    audit.append(s, CANCELLED, "deployment", row.id, job_name=row.job_name, actor=actor, at=now, details={
        "deployment": row.name, "run_id": row.run_id, "model": holder.provider_model_id, "alias": alias,
        "undeploy_after": before})
    return message


def _last_retirement(s: Session, row: DeploymentRow) -> dict[str, Any] | None:
    """The details of the deployment's latest retirement event, if that is its latest retire event."""
    from tuneops.store.tables import AuditEventRow

    event = s.exec(select(AuditEventRow).where(  # type: ignore[call-overload]
        AuditEventRow.job_name == row.job_name,  # the (job_name, at) index: not a scan of the whole trail
        AuditEventRow.subject_type == "deployment", AuditEventRow.subject_id == row.id,
        AuditEventRow.action.in_((SCHEDULED, CANCELLED))).order_by(AuditEventRow.seq.desc()).limit(1)  # type: ignore
    ).scalars().first()
    if event is None or event.action != SCHEDULED:
        return None
    return json.loads(event.details)
