"""`tuneops models ...`: list fine-tuned models, promote one behind an alias, roll an alias back."""

from __future__ import annotations

import typer

from tuneops.cli import render, state

models_app = typer.Typer(help="Fine-tuned models and their aliases: list, promote, rollback, history.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the models group."""
    app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(
    job: str = typer.Option(None, "--job", help="Only this job's models.", show_default=False),
    limit: int = typer.Option(50, "--limit", min=0, help="At most this many models (0: all)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Models newest first: id, job, run, base, dataset hash, eval scores, cost, created, shutdown, aliases."""
    from tuneops.store import listings

    with state.reader() as db:
        records = listings.list_models(db, job=job, limit=limit or None)
    if as_json:
        state.print_json([r.as_dict() for r in records])
        return
    if not records and job:
        state.console().print(f"no models match --job {job!r}; `tuneops models list` shows every model", markup=False)
        return
    if not records:
        state.console().print("no models yet: a succeeded run produces one (tuneops submit jobs/<name>.toml)")
        return
    rows = []
    for r in records:
        m = r.model
        scores = " ".join(f"{k}={v:.3f}" for k, v in r.scores.items()) or "-"
        rows.append((m.provider_model_id, m.job_name, m.run_id, m.base_model, m.train_sha256[:12], scores,
                     render.usd(r.run.cost_microusd if r.run else None), render.when(m.created_at),
                     render.when(m.shutdown_at) or "-", " ".join(r.aliases) or "-", r.deployment_state or "-"))
    render.listing(("model", "job", "run", "base", "dataset", "eval scores", "cost", "created (UTC)", "shutdown",
                    "aliases", "deployment"), rows, title="models", records=[r.as_dict() for r in records])


@models_app.command("show")
def models_show(
    ref: str = typer.Argument(..., help="A model id, an alias (job@name) or a run id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One model: where it came from, its scores, cost and aliases, and its ROI when the spec has [economics]."""
    from rich.markup import escape

    from tuneops import models, roi
    from tuneops.cli.roi import summary_lines

    with state.store().read() as s:
        model = models.require_model(s, ref)
        record = next(r for r in models.list_models(s, job=model.job_name) if r.model.id == model.id)
        try:
            value: dict | str = roi.report(s, model.provider_model_id).as_dict()
        except roi.MissingEconomics as exc:
            value = str(exc)
    if as_json:
        state.print_json(record.as_dict() | {"roi": value if isinstance(value, dict) else None})
        return
    out, m = state.console(), record.model
    out.print(f"model {escape(m.provider_model_id)} ({m.provider}, base {escape(m.base_model)}), job "
              f"{escape(m.job_name)}, run {m.run_id}, created {render.when(m.created_at)}")
    out.print(f"  aliases: {' '.join(record.aliases) or '-'}   cost "
              f"{render.usd(record.run.cost_microusd if record.run else None)}   scores: "
              + (" ".join(f"{k}={v:.3f}" for k, v in record.scores.items()) or "-"))
    lines = summary_lines(value) if isinstance(value, dict) else [value]
    out.print("  ROI (tuneops roi for every input's source):")
    for line in lines:
        out.print("    " + escape(line))


@models_app.command("promote")
def models_promote(
    model: str = typer.Argument(..., help="A model id, an alias (job@name) or a run id."),
    alias: str = typer.Option(..., "--alias", help="The alias to move, e.g. production (the model's job is "
                              "implied)."),
    force: bool = typer.Option(False, "--force", help="Skip the spec's [promote] gate (recorded as forced)."),
    reason: str = typer.Option("", "--reason", help="Why, for the audit trail."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Point an alias at a model through its spec's promotion gate (evaluating as needed), unless --force."""
    from tuneops import models
    from tuneops.cli.evals import print_promotion, progress_bar
    from tuneops.errors import TuneopsError
    from tuneops.evals.flow import promote_model
    from tuneops.runs.orchestrator import Orchestrator

    if force and not reason.strip():
        raise typer.BadParameter("--force skips the promotion gate, so it needs --reason WHY (kept in the audit "
                                 "trail)", param_hint="'--reason'")
    orch = Orchestrator(state.store())
    try:
        with orch.store.read() as s:
            row = models.require_model(s, model)
        job, name = models.split_alias(alias, row.job_name)
        if job != row.job_name:
            raise TuneopsError(f"alias {alias} belongs to job {job}, but {row.provider_model_id} is a model of "
                               f"job {row.job_name}; use --alias {name}")
        with progress_bar() as (on_role, progress):
            result = promote_model(orch, row, name, force=force, reason=reason, progress=progress,
                                   on_role=on_role)
    finally:
        orch.pool.close()
    if as_json:
        state.print_json(result.as_dict())
    else:
        print_promotion(result)
    raise typer.Exit(1 if result.status == "refused" else 0)


@models_app.command("rollback")
def models_rollback(
    alias: str = typer.Argument(..., help="The alias (job@name, or a name only one job uses)."),
    reason: str = typer.Option("", "--reason", help="Why, for the audit trail."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Move an alias back to its previous holder."""
    from tuneops import models

    move = models.rollback(state.store(), alias, reason=reason)
    if as_json:
        state.print_json(move)
        return
    out = state.console()
    out.print(f"rolled back {move.alias}: now {move.model} (was {move.previous_model})", markup=False, soft_wrap=True)
    for note in move.notes:
        out.print(f"  {note}", markup=False, soft_wrap=True)


@models_app.command("history")
def models_history(
    alias: str = typer.Argument(..., help="The alias (job@name, or a name only one job uses)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every move of an alias, oldest first."""

    from tuneops import models

    with state.store(read_only=True).read() as s:
        moves = models.alias_moves(s, alias)
    if as_json:
        state.print_json(moves)
        return
    render.listing(("at (UTC)", "action", "model", "previous", "eval", "reason", "actor"),
                   [(render.when(m["at"]), m["action"], m["model"], m["previous_model"] or "-", m["eval_id"] or "-",
                     m["reason"] or "-", m["actor"]) for m in moves], title=f"history of {alias}", records=moves)
