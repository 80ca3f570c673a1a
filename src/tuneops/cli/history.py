"""`tuneops history`: what happened in this ledger, newest first, from the audit trail.

The filter options here are shared with `tuneops audit log` and `tuneops audit export`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tuneops.cli import render, state

if TYPE_CHECKING:
    from tuneops.audit.query import AuditFilter

Job = Annotated[str | None, typer.Option("--job", help="Only this job.", show_default=False)]
Provider = Annotated[str | None, typer.Option("--provider", help="Only events at this provider.",
                                              show_default=False)]
Actor = Annotated[str | None, typer.Option("--actor", help="Only events by this actor (user@host or "
                                           "TUNEOPS_ACTOR).", show_default=False)]
Action = Annotated[str | None, typer.Option("--action", help="Only this action, or a glob like 'run.*'.",
                                            show_default=False)]
Since = Annotated[str | None, typer.Option("--since", help="Only events at or after this time: an age "
                                           "(30d, 12h, 45m) or an ISO date/date-time (UTC).",
                                           show_default=False)]
Until = Annotated[str | None, typer.Option("--until", help="Only events before this time (same forms as "
                                           "--since).", show_default=False)]
Status = Annotated[str | None, typer.Option("--status", help="Only events that moved a run to this state "
                                            "(succeeded, failed, running, ...).", show_default=False)]
Subject = Annotated[str | None, typer.Option("--subject", help="Only events about this run id, model, "
                                             "alias or upload.", show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def audit_filter(*, job: str | None = None, provider: str | None = None, actor: str | None = None,
                 action: str | None = None, since: str | None = None, until: str | None = None,
                 status: str | None = None, subject: str | None = None) -> AuditFilter:
    """The filter the shared options describe (bad times raise TuneopsError naming the option)."""
    from tuneops.audit.query import AuditFilter

    return AuditFilter.from_options(job=job, provider=provider, actor=actor, action=action, since=since,
                                    until=until, status=status, subject=subject)


def register(app: typer.Typer) -> None:
    """Add the history command."""
    app.command("history")(history)


def history(
    job: Job = None,
    provider: Provider = None,
    actor: Actor = None,
    action: Action = None,
    since: Since = None,
    until: Until = None,
    status: Status = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many events (0: all).")] = 30,
    as_json: AsJson = False,
) -> None:
    """Recent audit events: who did what to which job, run or model, and when."""
    from tuneops.audit import query as audit_query

    flt = audit_filter(job=job, provider=provider, actor=actor, action=action, since=since, until=until,
                       status=status)
    with state.reader() as reader:
        rows = audit_query.query(reader, flt, limit=limit or None)
    if as_json:
        state.print_json([audit_query.event_dict(r) for r in rows])
        return
    if not rows:
        typer.echo("no matching history" if flt != type(flt)() else "no history yet")
        return
    typer.echo(render.columns(
        ("SEQ", "TIME (UTC)", "ACTOR", "ACTION", "SUBJECT", "JOB", "DETAILS"),
        [(str(r.seq), render.when(r.at), r.actor, r.action, f"{r.subject_type} {r.subject_id}", r.job_name or "-",
          audit_query.summary(r)) for r in rows]))
