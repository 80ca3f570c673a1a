"""`tuneops runs show`: everything the ledger knows about one run."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tuneops.cli import render, state
from tuneops.store import listings
from tuneops.store.sql import Sql


def show_run(db: Sql, run_id: str, *, events: int = 15, as_json: bool = False) -> None:
    """Print one run with its status history, costs, model and recent events."""
    run = listings.get_run(db, run_id)
    history = listings.run_events(db, run.id, kinds=("state",))
    recent = render.in_order(listings.run_events(db, run.id, limit=events))
    model = listings.model_for_run(db, run.id)
    checkpoints = listings.checkpoints(db, run.id)
    deployment = listings.deployment_for_run(db, run.id)
    if as_json:
        data = render.run_dict(run)
        data["status_history"] = [{"at": e.at, "change": e.message} for e in history]
        data["events"] = [{"at": e.at, "kind": e.kind, "message": e.message,
                           "data": json.loads(e.data) if e.data else None} for e in recent]
        data["model"] = model.model_dump() if model else None
        data["checkpoints"] = [{"step": c.step, "model": c.provider_model_id,
                                "metrics": json.loads(c.metrics) if c.metrics else {}} for c in checkpoints]
        data["deployment"] = (deployment.model_dump(exclude={"raw", "lease_owner", "lease_expires_at"})
                              if deployment else None)
        state.print_json(data)
        return
    from tuneops.datasets.billing import estimate_vs_actual

    truth = estimate_vs_actual(run)
    out = state.console()
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [
        ("run", run.id), ("job", f"{run.job_name}  ({run.spec_path}, sha256 {run.spec_sha256[:12]})"),
        ("provider", f"{run.provider}  base {run.base_model}  method {run.method}"),
        ("state", f"{render.state(run.state)}  (provider status: {run.provider_status or '-'})"),
        ("provider job", run.provider_job_id or "-"), ("model", run.model_id or "-"),
        ("data", f"{run.train_examples} examples, {run.train_tokens} tokens/epoch, "
                 f"sha256 {run.train_sha256[:12]}"),
        ("trained tokens", _versus(truth["tokens"], lambda v: f"{v:,}")),
        ("dollars", _versus(truth["microusd"], render.usd)),
        ("trigger", f"{run.trigger} by {run.actor}"),
        ("created", render.when(run.created_at)), ("finished", render.when(run.finished_at)),
    ]
    if run.error_message:
        rows.append(("error", f"{run.error_code or ''} {run.error_message}"))
    if deployment is not None:
        hourly = ("per token" if deployment.hourly_cost_microusd == 0
                  else f"{render.usd(deployment.hourly_cost_microusd)}/h")
        rows.append(("deployment", f"{deployment.state}  {deployment.name} ({deployment.mode}, {hourly})  "
                                   f"{deployment.endpoint or '-'}"
                     + (f"  hosting cost {render.usd(deployment.cost_microusd)}"
                        if deployment.cost_microusd is not None else "")))
    if model is not None and (model.shutdown_at or model.base_shutdown_at):
        rows.append(("stops serving", f"model {render.when(model.shutdown_at) or '-'}, "
                                      f"base {render.when(model.base_shutdown_at) or '-'}"))
    if render.plain():  # piped: one line per field, never wrapped (a grid folds long paths at the width)
        rows = [(k, f"{run.state}  (provider status: {run.provider_status or '-'})" if k == "state" else v)
                for k, v in rows]
        out.print("\n".join(f"{k:<15} {v}" for k, v in rows), markup=False)
    else:
        for k, v in rows:
            grid.add_row(k, v if k == "state" else Text(v))  # paths, errors: the provider's text, not markup
        out.print(grid)
    if checkpoints:
        out.print("\n[bold]checkpoints[/]")
        for c in checkpoints:
            metrics = json.loads(c.metrics) if c.metrics else {}
            loss = metrics.get("train_loss")
            out.print(f"  step {c.step:>5}  {c.provider_model_id}" + (f"  train loss {loss:.4f}" if loss else ""))
    if history:
        out.print("\n[bold]status history[/]")
        for e in history:
            out.print(f"  {render.when(e.at)}  {escape(e.message)}")
    if recent:
        out.print(f"\n[bold]last {len(recent)} events[/]")
        for e in recent:
            out.print(f"  {render.when(e.at)}  [dim]{e.kind:8}[/] {escape(e.message)}")


def _versus(pair: dict, fmt) -> str:  # type: ignore[no-untyped-def]
    """``estimated X, actual Y (+1.2%)``; "-" for a figure not known yet."""
    est = "-" if pair["estimated"] is None else fmt(pair["estimated"])
    act = "-" if pair["actual"] is None else fmt(pair["actual"])
    diff = "" if pair["difference"] is None else f" ({pair['difference']:+.1%})"
    return f"estimated {est}, actual {act}{diff}"
