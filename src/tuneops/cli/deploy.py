"""`tuneops deploy` and `tuneops undeploy`: serve a run's model where its provider needs a deployment."""

from __future__ import annotations

import typer

from tuneops.cli import render, state


def register(app: typer.Typer) -> None:
    """Add deploy and undeploy."""
    app.command("deploy")(deploy)
    app.command("undeploy")(undeploy)


def _run_of(orch, ref: str):  # type: ignore[no-untyped-def]
    """The run behind a run id (or prefix), an alias (job@name) or a model id."""
    from tuneops import models
    from tuneops.store import queries

    with orch.store.read() as s:
        if ref.startswith("run_"):
            return queries.get_run(s, ref)
        return queries.get_run(s, models.require_model(s, ref).run_id)


def deployment_dict(row) -> dict:  # type: ignore[no-untyped-def]
    """A deployment row as JSON (no lease, no raw provider answer)."""
    return row.model_dump(exclude={"raw", "lease_owner", "lease_expires_at"})


def print_deployment(row) -> None:  # type: ignore[no-untyped-def]
    """One line a person reads: the run, the state, where it serves and what it costs."""
    hourly = "per token" if row.hourly_cost_microusd == 0 else f"{render.usd(row.hourly_cost_microusd)}/h"
    line = f"run {row.run_id}: deployment {row.name} {row.state} ({row.mode}, {hourly})"
    if row.endpoint and row.state == "deployed":
        line += f"; evals and inference call {row.endpoint}"
    if row.undeploy_after and row.state == "deployed":
        line += f"; undeployed after {render.when(row.undeploy_after)} UTC by `tuneops sync` or `schedule tick`"
    if row.state == "undeployed" and row.cost_microusd is not None:
        line += f"; hosting cost {render.usd(row.cost_microusd)}"
    if row.error_message:
        line += f": {row.error_message}"
    from rich.markup import escape

    state.console().print(escape(line), soft_wrap=True)


def deploy(
    ref: str = typer.Argument(..., help="A run id, an alias (job@name) or a model id."),
    mode: str = typer.Option(None, "--mode", help="on_demand, provisioned or dedicated (default: the spec's "
                             "[serve] mode, else the provider's per-token mode).", show_default=False),
    capacity: int = typer.Option(None, "--capacity", min=1, help="Model units, replicas or SKU capacity.",
                                 show_default=False),
    yes_hourly: bool = typer.Option(False, "--yes-hourly", help="Start hosting billed by the hour even though "
                                    "the spec's [serve] does not name that mode."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the deployment serves."),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment as JSON."),
) -> None:
    """Deploy a succeeded run's model (idempotent: a repeat or an interrupted deploy finds the same one)."""
    from tuneops.runs.deploy import Deployer
    from tuneops.runs.orchestrator import Orchestrator

    if mode is not None and mode not in ("on_demand", "provisioned", "dedicated"):
        raise typer.BadParameter("use on_demand, provisioned or dedicated", param_hint="--mode")
    orch = Orchestrator(state.store())
    try:
        run = _run_of(orch, ref)
        deployer = Deployer(orch)
        row = deployer.deploy(run, mode=mode, capacity=capacity, yes_hourly=yes_hourly)
        if wait and row.state in ("deploying",):
            row = deployer.wait(run.id)
    finally:
        orch.pool.close()
    if as_json:
        state.print_json(deployment_dict(row))
    else:
        print_deployment(row)
    raise typer.Exit(1 if row.state == "deploy_failed" else 0)


def undeploy(
    ref: str = typer.Argument(..., help="A run id, an alias (job@name) or a model id."),
    reason: str = typer.Option("", "--reason", help="Why, for the audit trail."),
    as_json: bool = typer.Option(False, "--json", help="Print the deployment as JSON."),
) -> None:
    """Delete a run's deployment at its provider (hourly billing stops) and record the hosting it cost."""
    from tuneops.runs.deploy import Deployer
    from tuneops.runs.orchestrator import Orchestrator

    orch = Orchestrator(state.store())
    try:
        row = Deployer(orch).undeploy(_run_of(orch, ref), reason=reason)
    finally:
        orch.pool.close()
    if as_json:
        state.print_json(deployment_dict(row))
    else:
        print_deployment(row)
