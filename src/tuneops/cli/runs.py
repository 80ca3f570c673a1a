"""`tuneops submit`, `tuneops sync` and `tuneops runs ...`: start runs, advance them, look at them."""

from __future__ import annotations

import typer

from tuneops.cli import render, state
from tuneops.cli.submit import TIMEOUT_HELP, _notice, interrupted, set_timeout

runs_app = typer.Typer(help="List, inspect, watch and control runs.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add submit, plan, sync and the runs group."""
    from tuneops.cli.submit import plan, submit

    app.command("submit")(submit)
    app.command("plan")(plan)
    app.command("sync")(sync)
    app.add_typer(runs_app, name="runs")


def _orchestrator(succeeded: list | None = None, on_admitted=None):  # type: ignore[no-untyped-def]
    """An orchestrator on the CLI's ledger; runs this process sees succeed are appended to ``succeeded``."""
    from tuneops.runs.orchestrator import Orchestrator

    def listener(run, what: str) -> None:  # type: ignore[no-untyped-def]
        if what == "succeeded" and succeeded is not None:
            succeeded.append(run)
        if what == "admitted" and on_admitted is not None:
            on_admitted(run)

    from tuneops.runs.orchestrator import ProviderPool

    orch = Orchestrator(state.store(), ProviderPool(timeout=state.HTTP_TIMEOUT), listener=listener)
    orch.notice = _notice
    return orch


def _promote_new_models(orch, runs: list, quiet: bool) -> None:  # type: ignore[no-untyped-def]
    """Evaluate and (if the gate holds) promote the models of runs this process saw succeed."""
    from tuneops.cli.evals import after_run

    for run in runs:
        after_run(orch, None, run, quiet=quiet)


def sync(
    due_only: bool = typer.Option(False, "--due", help="Only runs whose next poll is due (for cron)."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Do not evaluate and promote models of "
                                    "runs that finished."),
    as_json: bool = typer.Option(False, "--json", help="Print the runs as JSON."),
    timeout: float = typer.Option(None, "--timeout", help=TIMEOUT_HELP, show_default=False),
) -> None:
    """Advance every unfinished run: reconcile interrupted submissions, then poll (batched per provider).

    A run that cannot be advanced (its provider unreachable or without credentials, a ledger write
    refused) is reported on stderr and skipped; the others keep syncing (exit 1 when any was skipped).
    """
    from rich.markup import escape

    set_timeout(timeout)
    succeeded: list = []
    orch = _orchestrator(succeeded)
    try:
        with render.phase("reconciling and polling unfinished runs"):
            done, calls, problems = orch.sync_each(force=not due_only)
        if not no_promote:
            _promote_new_models(orch, succeeded, quiet=as_json)
        from tuneops.runs.deploy import Deployer

        Deployer(orch).sync_all()  # deployments still coming up, and those past auto_undeploy_after
    except KeyboardInterrupt:
        raise typer.Exit(interrupted(orch, None)) from None
    finally:
        orch.pool.close()
    for problem in problems:
        state.err_console().print(f"[yellow]skipped:[/] {escape(problem)}", soft_wrap=True, highlight=False)
    if as_json:
        state.print_json([render.run_dict(r) for r in done])
    elif done:
        render.print_runs(done, title=f"synced {len(done)} run(s) ({calls['list']} list + {calls['get']} get calls)")
    elif not problems:
        state.console().print("no unfinished runs")
    if problems:
        raise typer.Exit(1)


@runs_app.command("list")
def runs_list(
    job: str = typer.Option(None, "--job", help="Only this job.", show_default=False),
    provider: str = typer.Option(None, "--provider", help="Only this provider.", show_default=False),
    status: str = typer.Option(None, "--state", help="Only runs in this state.", show_default=False),
    active: bool = typer.Option(False, "--active", help="Only unfinished runs."),
    limit: int = typer.Option(50, "--limit", min=0, help="At most this many runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Runs, newest first."""
    from rich.markup import escape

    from tuneops.store import listings

    if status is not None:
        _check_state(status)
    with state.reader() as db:
        runs = listings.list_runs(db, job=job, provider=provider, state=status, active=active, limit=limit)
        warnings = listings.serving_deadlines(db, within_days=30)
    if as_json:
        state.print_json([render.run_dict(r) for r in runs])
        return
    out = state.console()
    if runs:
        render.print_runs(runs)
    elif job or provider or status or active:
        out.print(_no_match(job, provider, status, active), markup=False, soft_wrap=True)
    else:
        out.print("no runs yet: tuneops submit jobs/<name>.toml")
    for model, what, when in warnings:
        out.print(f"[yellow]warning:[/] {what} of {escape(model.provider_model_id)} (job {model.job_name}) stops "
                  f"serving on {when:%Y-%m-%d}; retrain or move the job to another base model", soft_wrap=True)


def _check_state(status: str) -> None:
    """A --state that no run can be in is a typo to point out, not an empty listing."""
    from tuneops.errors import did_you_mean
    from tuneops.store.states import ACTIVE_RUN_STATES, TERMINAL_STATES

    known = [*ACTIVE_RUN_STATES, *TERMINAL_STATES]
    if status not in known:
        raise typer.BadParameter(f"{status!r} is not a run state;{did_you_mean(status, known)} states: "
                                 f"{', '.join(known)}", param_hint="'--state'")


def _no_match(job: str | None, provider: str | None, status: str | None, active: bool) -> str:
    """What an empty filtered listing says: which filters matched nothing, and a likely misspelt provider."""
    from tuneops import registry
    from tuneops.errors import did_you_mean

    given = [f"--job {job!r}" if job else "", f"--provider {provider!r}" if provider else "",
             f"--state {status!r}" if status else "", "--active" if active else ""]
    hint = did_you_mean(provider, registry.names()) if provider and provider not in registry.names() else ""
    return f"no runs match {' '.join(g for g in given if g)};{hint} `tuneops runs list` shows every run"


@runs_app.command("show")
def runs_show(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    events: int = typer.Option(15, "--events", min=0, help="How many recent events to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One run: status history, estimate and cost, the model, and recent events."""
    from tuneops.cli.show import show_run

    with state.reader() as db:
        show_run(db, run_id, events=events, as_json=as_json)


@runs_app.command("watch")
def runs_watch(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    interval: float = typer.Option(2.0, "--interval", min=0, help="Seconds between polls."),
    no_promote: bool = typer.Option(False, "--no-promote", help="Do not evaluate and promote the model "
                                    "when the run succeeds."),
) -> None:
    """Follow a run until it finishes (reconciling it first if its submission was interrupted)."""
    from tuneops.cli.watch import follow
    from tuneops.store import queries

    succeeded: list = []
    orch = _orchestrator(succeeded)
    try:
        with orch.store.read() as s:
            run = queries.get_run(s, run_id)
        orch.current = run
        run = follow(orch, run.id, interval=interval)
        if not no_promote:
            _promote_new_models(orch, succeeded, quiet=False)
    except KeyboardInterrupt:
        raise typer.Exit(interrupted(orch, None)) from None
    finally:
        orch.pool.close()
    raise typer.Exit(1 if run.state in ("failed", "unknown") else 0)


def _control(run_id: str, action: str) -> None:
    from tuneops.store import queries

    orch = _orchestrator()
    try:
        with orch.store.read() as s:
            run = queries.get_run(s, run_id)
        run = orch.control(run, action)
    finally:
        orch.pool.close()
    state.console().print(f"run {run.id}: {action} requested; now {render.state(run.state)}")


@runs_app.command("cancel")
def runs_cancel(run_id: str = typer.Argument(..., help="Run id (or a unique prefix).")) -> None:
    """Cancel a run at its provider."""
    _control(run_id, "cancel")


@runs_app.command("pause")
def runs_pause(run_id: str = typer.Argument(..., help="Run id (or a unique prefix).")) -> None:
    """Pause a run (where the provider supports it)."""
    _control(run_id, "pause")


@runs_app.command("resume")
def runs_resume(run_id: str = typer.Argument(..., help="Run id (or a unique prefix).")) -> None:
    """Resume a paused run (where the provider supports it)."""
    _control(run_id, "resume")


@runs_app.command("abandon")
def runs_abandon(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the audit trail)."),
) -> None:
    """Give up on a run that cannot finish: cancel its provider job where it still runs, end it in the ledger."""
    from tuneops.store import queries

    orch = _orchestrator()
    try:
        with orch.store.read() as s:
            run = queries.get_run(s, run_id)
        run, note = orch.abandon(run, reason)
    finally:
        orch.pool.close()
    state.console().print(f"run {run.id}: abandoned ({note}); `tuneops submit {run.spec_path}` now starts a "
                          "new run", soft_wrap=True, highlight=False, markup=False)
