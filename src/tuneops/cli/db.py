"""`tuneops db status|upgrade`: which ledger this is, whether its schema is current, and migrating it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from tuneops.cli import state

db_app = typer.Typer(help="The ledger database: status and schema upgrades (SQLite or PostgreSQL).",
                     no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    """Add the db group."""
    app.add_typer(db_app, name="db")


def _status(store: Any) -> dict[str, Any]:
    from sqlalchemy import func, inspect, select

    from tuneops.store.migrate import SCHEMA_HEADS, current_heads

    current = current_heads(store)
    unknown = sorted(current - SCHEMA_HEADS)
    if current == SCHEMA_HEADS:
        schema = "current"
    elif unknown:
        schema = "newer"  # revisions this tuneops does not know: someone upgraded with a newer release
    elif not current:
        schema = "empty"
    else:
        schema = "behind"
    counts: dict[str, int | None] = {"runs": None, "models": None, "audit_events": None}
    if schema == "current":
        from tuneops.store.tables import AuditEventRow, ModelRow, RunRow

        with store.read() as s:
            counts = {"runs": s.execute(select(func.count()).select_from(RunRow)).scalar_one(),
                      "models": s.execute(select(func.count()).select_from(ModelRow)).scalar_one(),
                      "audit_events": s.execute(select(func.max(AuditEventRow.seq))).scalar() or 0}
    with store.engine.connect() as conn:
        tables = len(inspect(conn).get_table_names())
    return {"url": store.url, "dialect": store.dialect, "schema": schema, "revisions": sorted(current),
            "expected": sorted(SCHEMA_HEADS), "unknown_revisions": unknown, "tables": tables, **counts}


def _status_of(db: str | None) -> dict[str, Any]:
    """The status of the ledger at ``db``; a SQLite file not there yet is reported empty, not created."""
    from pathlib import Path

    from tuneops.store import open_store
    from tuneops.store.migrate import SCHEMA_HEADS
    from tuneops.store.urls import refuse_folder, resolve_url, sqlite_path

    url = resolve_url(db, create=False)
    refuse_folder(url)
    path = sqlite_path(url)
    if path is None or Path(path).exists():
        return _status(open_store(db, migrate=False))
    return {"url": url, "dialect": "sqlite", "schema": "empty", "revisions": [], "expected": sorted(SCHEMA_HEADS),
            "unknown_revisions": [], "tables": 0, "runs": None, "models": None, "audit_events": None}


@db_app.command("status")
def status(as_json: AsJson = False) -> None:
    """Show the ledger's URL (password hidden), schema revisions and what it holds; exit 1 if not current."""
    info = _status_of(state.DB)
    if as_json:
        state.print_json(info)
    else:
        out = state.console()
        word = {"current": "[green]current[/]", "behind": "[yellow]needs `tuneops db upgrade`[/]",
                "empty": "[yellow]empty: `tuneops db upgrade` creates the tables[/]",
                "newer": "[red]newer than this tuneops: upgrade tuneops before using this ledger[/]"}
        out.print(f"ledger    {info['url']} ({info['dialect']})", soft_wrap=True, markup=False)
        out.print(f"schema    {word[info['schema']]}  revisions {', '.join(info['revisions']) or '-'}"
                  f"  (this tuneops: {', '.join(info['expected'])})")
        if info["schema"] == "current":
            out.print(f"holds     {info['runs']} runs, {info['models']} models, "
                      f"{info['audit_events']} audit events")
    if info["schema"] != "current":
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade(as_json: AsJson = False) -> None:
    """Create or migrate the ledger's tables; safe to run from several processes at once."""
    from tuneops.errors import StoreError
    from tuneops.store import open_store
    from tuneops.store.migrate import SCHEMA_HEADS, current_heads
    from tuneops.store.migrate import upgrade as run_upgrade

    store = open_store(state.DB, migrate=False)
    before = current_heads(store)
    if before - SCHEMA_HEADS:
        raise StoreError(f"the ledger at {store.url} has schema revisions this tuneops does not know "
                         f"({', '.join(sorted(before - SCHEMA_HEADS))}); upgrade tuneops instead")
    ran = run_upgrade(store)
    after = current_heads(store)
    if as_json:
        state.print_json({"url": store.url, "migrated": ran, "from": sorted(before), "to": sorted(after)})
        return
    if ran:
        state.console().print(f"migrated {store.url} from {', '.join(sorted(before)) or 'an empty database'} "
                              f"to {', '.join(sorted(after))}", soft_wrap=True, markup=False)
    else:
        state.console().print(f"{store.url} is already current ({', '.join(sorted(after))})", soft_wrap=True,
                              markup=False)
