"""`tuneops submit` and `tuneops plan`: one run per intent, said out loud.

submit resumes an unfinished run of the same intent, answers "no changes" for a succeeded one (writing
nothing), and starts another only with --again --reason; --dry-run (and plan) print what would happen
and write nothing. Nothing is opened in the ledger until the spec, data, credentials and per-run
budget have passed, so a refused submit leaves no ledger file behind.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer

from tuneops.cli import render, state

TIMEOUT_HELP = "HTTP timeout in seconds for provider calls (default: TUNEOPS_HTTP_TIMEOUT, else the adapter's)."


def set_timeout(timeout: float | None) -> None:
    """Apply --timeout to the provider calls of this command (not to the environment: it outlives the command)."""
    if timeout is not None and not timeout > 0:
        raise typer.BadParameter("give the HTTP timeout as a positive number of seconds, e.g. 30",
                                 param_hint="--timeout")
    state.HTTP_TIMEOUT = timeout


def _notice(message: str) -> None:
    from rich.markup import escape

    state.err_console().print(f"[yellow]retry:[/] {escape(message)}", soft_wrap=True, highlight=False)


def interrupted(orch: Any, spec: Path | None) -> int:
    """After Ctrl-C: say which run, in which state, and how to reattach or cancel it; exit code 130."""
    err = state.err_console()
    run = getattr(orch, "current", None) if orch is not None else None
    if run is None:
        err.print("interrupted before a run was admitted; nothing was written")
        return 130
    with contextlib.suppress(Exception):  # the ledger may be what was interrupted; the id is what matters
        run = orch.get(run.id)
    again = f"tuneops submit {spec}" if spec else f"tuneops runs watch {run.id}"
    err.print(f"interrupted: run {run.id} is {run.state} at {run.provider}"
              + (f" (job {run.provider_job_id})" if run.provider_job_id else "")
              + f". Reattach: {again} (or tuneops runs watch {run.id}); cancel: tuneops runs cancel {run.id}",
              soft_wrap=True, highlight=False, markup=False)
    return 130


def _left_behind(orch: Any, spec: Path, exc: Exception) -> None:
    """A submit that stopped on an error: name the run, its state, and how it continues."""
    from tuneops.errors import TuneopsError
    from tuneops.runs.problems import explain

    run = orch.current
    if run is None:
        raise exc
    run = orch.get(run.id)
    msg = explain(run, exc, orch.pool)
    if run.state in ("admitted", "submitting", "unknown"):
        msg += (f". Nothing was created at {run.provider} yet; `tuneops submit {spec}` (or `tuneops sync`) "
                "resumes this run")
    left = TuneopsError(msg)
    left.exit_code = getattr(exc, "exit_code", 1)  # a provider down is a failed call (1), a missing key input (2)
    raise left from None


def submit(
    spec: Path = typer.Argument(..., help="The job spec (jobs/<name>.toml)."),
    provider: str = typer.Option(None, "--provider", help="Run on this provider instead of the spec's.",
                                 show_default=False),
    watch: bool = typer.Option(False, "--watch", "-w", help="Follow the run until it finishes."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
    no_promote: bool = typer.Option(False, "--no-promote", help="With --watch: do not evaluate and "
                                    "promote the new model when the run succeeds."),
    again: bool = typer.Option(False, "--again", help="Train again although a run of this spec and data "
                               "succeeded (needs --reason)."),
    reason: str = typer.Option(None, "--reason", help="Why --again (recorded in the audit trail).",
                               show_default=False),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would happen and write nothing."),
    timeout: float = typer.Option(None, "--timeout", help=TIMEOUT_HELP, show_default=False),
    pilot: int = typer.Option(None, "--pilot", min=10, help="Train on N sampled examples first; submit the "
                              "full run only if the pilot's lift passes [pilot] (default: a [pilot] in the spec).",
                              show_default=False),
) -> None:
    """Validate, estimate and submit a job spec: at most one run per intent (same spec and data)."""
    from tuneops.errors import RunFailed, TuneopsError

    if again != bool(reason):
        raise typer.BadParameter("--again and --reason TEXT go together: say why you train the same again",
                                 param_hint="--again/--reason")
    if dry_run:
        plan(spec, provider=provider, as_json=as_json, timeout=timeout)
        return
    set_timeout(timeout)
    from tuneops.runs.intent import NEW, NO_CHANGES, REJECTED, describe
    from tuneops.runs.orchestrator import Orchestrator, ProviderPool

    loaded = _load(spec, provider)
    orch = Orchestrator(None, ProviderPool(timeout=state.HTTP_TIMEOUT))  # type: ignore[arg-type]  # the ledger opens after preparing
    eval_failed = False
    orch.notice = _notice
    if pilot is not None or loaded.spec.pilot is not None:
        _submit_with_pilot(orch, loaded, pilot, provider, watch=watch, as_json=as_json, no_promote=no_promote)
    try:
        with render.phase(f"{loaded.spec.name}: preflight and dataset snapshot"):
            prepared = orch.prepare(loaded, provider=provider)
        orch.store = state.store()
        try:
            with render.phase(f"{loaded.spec.name}: submitting to {prepared.adapter.name}"):
                outcome = orch.submit_intent(prepared, again=reason if again else None)
        except TuneopsError as exc:
            _left_behind(orch, spec, exc)
        run = outcome.run
        assert run is not None
        for warning in orch.warnings:
            state.err_console().print(f"warning: {warning}", soft_wrap=True, highlight=False, markup=False)
        line = describe(outcome)
        if outcome.how == REJECTED:
            raise RunFailed(line)
        if not as_json:
            out = state.console()
            if line:
                out.print(line, soft_wrap=True, highlight=False, markup=False)
            if outcome.how != NO_CHANGES:
                out.print(f"run {run.id}: {render.state(run.state)} at {run.provider}"
                          + (f" (job {run.provider_job_id})" if run.provider_job_id else ""), soft_wrap=True)
            if outcome.how == NEW and run.state == "failed":
                out.print(f"{run.provider} refused the job: {run.error_message or run.error_code}",
                          soft_wrap=True, highlight=False, markup=False)
        if watch and outcome.how != NO_CHANGES:
            run, eval_failed = _follow(orch, loaded, run, promote=not no_promote, quiet=as_json)
    except KeyboardInterrupt:
        raise typer.Exit(interrupted(orch, spec)) from None
    finally:
        orch.pool.close()
    if as_json:
        state.print_json({**render.run_dict(run), "outcome": outcome.how})
    raise typer.Exit(1 if (run.state in ("failed", "unknown") and outcome.how != NO_CHANGES) or eval_failed else 0)


def plan(
    spec: Path = typer.Argument(..., help="The job spec (jobs/<name>.toml)."),
    provider: str = typer.Option(None, "--provider", help="Plan for this provider instead of the spec's.",
                                 show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
    timeout: float = typer.Option(None, "--timeout", help=TIMEOUT_HELP, show_default=False),
) -> None:
    """What `tuneops submit` would do: uploads, the provider's create request, estimate and budget. Writes nothing."""
    from tuneops.runs.orchestrator import Orchestrator, ProviderPool
    from tuneops.runs.plan import make_plan, show_plan

    set_timeout(timeout)
    loaded = _load(spec, provider)
    orch = Orchestrator(None, ProviderPool(timeout=state.HTTP_TIMEOUT))  # type: ignore[arg-type]
    try:
        with render.phase(f"{loaded.spec.name}: preflight and dataset snapshot"):
            prepared = orch.prepare(loaded, provider=provider, check_budget=False)
        result = make_plan(prepared, state.DB)
    finally:
        orch.pool.close()
    if as_json:
        state.print_json(result)
    else:
        state.console().print(show_plan(result), soft_wrap=True, highlight=False, markup=False)


def _submit_with_pilot(orch: Any, loaded: Any, pilot: int | None, provider: str | None, *, watch: bool,
                       as_json: bool, no_promote: bool) -> None:
    """Train the pilot, then the full run only if the pilot's lift passes (each run one intent)."""
    from tuneops.cli import bars
    from tuneops.cli.pilot import run_pilot

    orch.store = state.store()
    eval_failed = False
    try:
        with bars.shown():  # each run's data files as they are checked, hashed and uploaded
            run = run_pilot(orch, loaded, pilot, provider, quiet=as_json)
        if run is None:
            raise typer.Exit(1)
        if not as_json:
            state.console().print(f"run {run.id}: {render.state(run.state)} at {run.provider}"
                                  + (f" (job {run.provider_job_id})" if run.provider_job_id else ""))
        if watch:
            run, eval_failed = _follow(orch, loaded, run, promote=not no_promote, quiet=as_json)
    except KeyboardInterrupt:
        raise typer.Exit(interrupted(orch, loaded.path)) from None
    finally:
        orch.pool.close()
    if as_json:
        state.print_json(render.run_dict(run))
    raise typer.Exit(1 if run.state in ("failed", "unknown") or eval_failed else 0)


def _load(spec: Path, provider: str | None) -> Any:
    """The spec, with ``--provider``'s required options checked before anything is uploaded."""
    from tuneops import spec as specmod

    loaded = specmod.load(spec)
    if provider and provider != loaded.spec.model.provider:
        problems = specmod.option_problems(loaded.path.read_text(encoding="utf-8"), loaded.spec, [provider])
        if problems:
            raise specmod.SpecError(str(loaded.path), problems)
    return loaded


def _follow(orch: Any, loaded: Any, run: Any, *, promote: bool, quiet: bool) -> tuple[Any, bool]:
    """Watch ``run`` to its end, then evaluate and promote; (the run, whether eval or promotion failed).

    A model that could not be scored or promoted is a failed submission for scripts (exit 1)."""
    from tuneops.cli.watch import follow

    run = follow(orch, run.id, quiet=quiet)
    if run.state != "succeeded" or not promote:
        return run, False
    from tuneops.cli.evals import after_run

    return run, after_run(orch, loaded, run, quiet=quiet) is None
