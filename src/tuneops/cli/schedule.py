"""`tuneops schedule plan|tick|run|fires`: retrain jobs when their [retrain] policy says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from tuneops.cli import render, state

schedule_app = typer.Typer(help="Retrain on a cron schedule, a falling eval score, fresh data, model age or a "
                           "base model's shutdown; once per decision, within budget.", no_args_is_help=True)

JOBS_HELP = ("Directory of job specs (*.toml); default: jobs/ in the project (the folder holding .tuneops/ "
             "or jobs/, found from the working directory upwards).")


def register(app: typer.Typer) -> None:
    """Add the schedule group."""
    app.add_typer(schedule_app, name="schedule")


FULL_HELP = ("Work out every job's decision again, also the quiet ones (whose files and ledger rows did not "
             "change and whose time did not come since the last tick).")


def _jobs_dir(jobs: Path | None) -> Path:
    """--jobs, else the project's jobs/ (found the way git finds a repository; see tuneops.home)."""
    from tuneops.home import JOBS_DIR, project_root

    return jobs if jobs is not None else project_root() / JOBS_DIR


def _context(jobs: Path, lease_ttl: float, *, notify: bool = True, full: bool = False, cache: Any = None) -> Any:
    from datetime import timedelta

    from tuneops.scheduler.context import SchedulerContext

    ctx = SchedulerContext(store=state.store(), jobs_dir=jobs, ttl=timedelta(seconds=lease_ttl),
                           skip_quiet=not full, _cache=cache)
    if notify:
        from tuneops.scheduler.notify import Notifier

        ctx.notifier = Notifier()
    return ctx


@schedule_app.command("plan")
def plan_cmd(
    jobs: Path = typer.Option(None, "--jobs", help=JOBS_HELP, show_default=False),
    no_estimate: bool = typer.Option(False, "--no-estimate", help="Skip cost estimates (no data preflight)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show what a tick would decide for every job, why, what it would cost and what the budget allows;
    changes nothing."""
    jobs = _jobs_dir(jobs)

    from tuneops.scheduler.plan import plan

    ctx = _context(jobs, 300, notify=False)
    try:
        result = plan(ctx, estimates=not no_estimate)
    finally:
        ctx.close()
    if as_json:
        state.print_json({"month_spent_microusd": result.month_spent_microusd,
                          "jobs": [j.as_dict() for j in result.jobs]})
        return
    if not result.jobs:
        state.console().print(f"no job specs in {jobs}", markup=False)
        return
    rows = []
    for j in result.jobs:
        d = j.decision
        verdict = "fire" if d.fire else (f"held: {d.gate}" if d.gate else "skip")
        why = "\n".join(v.reason for v in d.verdicts) if d.verdicts else d.reason
        if d.gate or (d.fire and d.fire_key):
            why += "\n" + (d.fire_key or d.reason.rsplit("; ", 1)[-1])
        left = "-" if j.remaining_microusd is None else (
            render.usd(j.remaining_microusd) + (f" ({j.runs_allowed})" if j.runs_allowed is not None else ""))
        rows.append((j.policy.name, verdict, why, render.usd(j.estimate_microusd)
                     if j.estimate_microusd is not None else "-", left))
    render.listing(("job", "decision", "why", "est.", "budget left (runs)"), rows,
                   title=f"schedule plan ({len(result.firing)} of {len(result.jobs)} would fire; spent this month "
                         f"{render.usd(result.month_spent_microusd)})",
                   style=lambda i, v: ("green" if v == "fire" else "yellow" if v.startswith("held") else "") if i == 1
                   else "")


@schedule_app.command("tick")
def tick_cmd(
    jobs: Path = typer.Option(None, "--jobs", help=JOBS_HELP, show_default=False),
    lease_ttl: float = typer.Option(300.0, "--lease-ttl", min=1, help="Seconds a lease lasts without renewal."),
    as_json: bool = typer.Option(False, "--json", help="Print what the tick did as JSON."),
    full: bool = typer.Option(False, "--full", help=FULL_HELP),
) -> None:
    """One scheduler pass (for cron or a Kubernetes CronJob): decide, fire, submit, advance, promote."""
    jobs = _jobs_dir(jobs)
    from tuneops.scheduler.localcache import LocalCache, default_dir
    from tuneops.scheduler.report import health_line

    cache = LocalCache(default_dir())
    done, begun = False, None
    if not full:
        done, report, step = _light(jobs, cache)
        begun = (report, step)
    if not done:
        from tuneops.scheduler.tick import tick

        ctx = _context(jobs, lease_ttl, full=full, cache=cache)
        ctx.begun = begun  # the full tick goes on from what the light one decided
        try:
            report = tick(ctx)
        finally:
            ctx.close()
    else:
        cache.close()
    if as_json:
        state.print_json(report.as_dict())
    else:
        from rich.markup import escape

        out = state.console()
        out.print(escape(health_line(1, report)), soft_wrap=True)
        for f in report.fired:
            out.print(f"fired {escape(f['job'])}: {escape(f['reason'])} [dim]({f['fire_id']})[/]")
        for f in report.settled:
            out.print(f"settled {escape(f['job'])}: {f['outcome']} {escape(f['message'] or '')}")
        for f in report.refused:
            out.print(f"[yellow]refused[/] {escape(f['job'])}: {escape(f['message'] or '')}")
        for d in report.deployments:
            out.print(f"deployment {escape(d['deployment'])} of run {d['run_id']}: {d['state']}")
    for e in report.errors:
        from rich.markup import escape

        state.err_console().print(f"[bold red]error:[/] {escape(e)}", soft_wrap=True)
    raise typer.Exit(1 if report.errors else 0)


def _light(jobs: Path, cache: Any) -> tuple[bool, Any, Any]:
    """A tick without the ORM when nothing fires and no run or fire needs work; else what it decided
    (see ``tuneops.scheduler.light``)."""
    from tuneops.clock import actor, utcnow
    from tuneops.scheduler.light import light_tick

    with state.reader(create=True) as db:
        return light_tick(db, jobs, cache, utcnow(), actor=actor())


@schedule_app.command("run")
def run_cmd(
    jobs: Path = typer.Option(None, "--jobs", help=JOBS_HELP, show_default=False),
    interval: float = typer.Option(60.0, "--interval", min=0, help="Seconds between ticks."),
    once: bool = typer.Option(False, "--once", help="One tick, then follow the runs it started until they "
                              "are evaluated and promoted (or refused), and exit."),
    poll: float = typer.Option(5.0, "--poll", min=0, help="With --once: seconds between polls of its runs."),
    drain_timeout: float = typer.Option(3600.0, "--drain-timeout", min=0, help="With --once: give up following "
                                        "runs after this many seconds."),
    lease_ttl: float = typer.Option(300.0, "--lease-ttl", min=1, help="Seconds a lease lasts without renewal."),
    health_file: Path = typer.Option(None, "--health-file", help="Write the last tick's summary here (JSON) "
                                     "for a liveness probe.", show_default=False),
    full: bool = typer.Option(False, "--full", help=FULL_HELP),
) -> None:
    """Run the scheduler until SIGTERM or SIGINT (graceful: the fire in hand finishes), one health line
    per tick."""
    from rich.markup import escape

    from tuneops.cli.conventions import output_file

    jobs = _jobs_dir(jobs)
    health_file = output_file(health_file, "--health-file", "health.json")

    from tuneops.scheduler.loop import SchedulerLoop, health_line

    ctx = _context(jobs, lease_ttl, full=full)
    out, err = state.console(), state.err_console()

    def on_tick(n: int, report: Any) -> None:
        out.print(escape(health_line(n, report)), soft_wrap=True)
        for f in report.fired:
            out.print(f"  fired {escape(f['job'])}: {escape(f['reason'])}", soft_wrap=True)
        for e in report.errors:
            err.print(f"  [bold red]error:[/] {escape(e)}", soft_wrap=True)

    loop = SchedulerLoop(ctx, interval=interval, on_tick=on_tick, health_file=health_file)
    try:
        ticks = loop.run(once=once, drain_timeout=drain_timeout, poll=poll)
    finally:
        ctx.close()
    if once and loop.last is not None:
        for f in loop.last.settled:
            out.print(f"  settled {escape(f['job'])}: {f['outcome']} {escape(f['message'] or '')}", soft_wrap=True)
        for e in loop.last.errors[len(loop.last.errors) - loop.drain_errors:]:
            err.print(f"  [bold red]error:[/] {escape(e)}", soft_wrap=True)
    else:
        out.print(f"stopped after {ticks} tick(s)")
    raise typer.Exit(1 if once and loop.last is not None and loop.last.errors else 0)


@schedule_app.command("fires")
def fires_cmd(
    job: str = typer.Option(None, "--job", help="Only this job.", show_default=False),
    limit: int = typer.Option(50, "--limit", min=0, help="At most this many fires."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Decisions that fired, newest first: the trigger, the runs they started and how they ended."""
    import json

    from sqlalchemy import select

    from tuneops.store.scheduler_tables import FireRow

    store = state.store(read_only=True)
    with store.read() as s:
        stmt = select(FireRow).order_by(FireRow.created_at.desc()).limit(limit)  # type: ignore[attr-defined]
        if job:
            stmt = stmt.where(FireRow.job_name == job)
        rows = list(s.execute(stmt).scalars())
    if as_json:
        state.print_json([{**r.model_dump(exclude={"providers", "run_ids"}), "providers": json.loads(r.providers),
                           "run_ids": json.loads(r.run_ids)} for r in rows])
        return
    if not rows:
        state.console().print("no fires yet: `tuneops schedule plan` shows what would fire and why")
        return
    render.listing(("fire", "job", "key", "state", "outcome", "runs", "created (UTC)"),
                   [(r.id, r.job_name, r.fire_key, r.state, r.outcome or "-", ", ".join(json.loads(r.run_ids)) or "-",
                     render.when(r.created_at)) for r in rows], title="fires")
