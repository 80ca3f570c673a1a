"""`tuneops providers list|check|models|docs`: installed back ends, their credentials, base models and pages."""

from __future__ import annotations

from pathlib import Path

import typer

from tuneops.cli import render, state

providers_app = typer.Typer(help="Installed providers and their capabilities.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the providers group."""
    app.add_typer(providers_app, name="providers")


@providers_app.command("list")
def providers_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every installed provider with its capabilities side by side."""
    from tuneops import registry

    rows = registry.describe_all()
    if as_json:
        state.print_json(rows)
        return
    cells = []
    for info in rows:
        caps = info.get("capabilities")
        if caps is None:
            cells.append((info["name"], "-", "-", "-", "-", "-", info.get("error", "")))
            continue
        controls = ",".join(a for a, ok in (("cancel", caps.can_cancel), ("pause", caps.can_pause),
                                            ("resume", caps.can_resume)) if ok)
        notes = "; ".join(x for x in (f"deprecated: {caps.deprecated}" if caps.deprecated else "",
                                      caps.notes) if x)
        cells.append((info["name"], ",".join(sorted(caps.methods)), f"{caps.staging}/{caps.data_format}",
                      controls or "-", "deployment" if caps.needs_deployment else "direct",
                      " ".join(caps.credentials) or "-", notes or "-"))
    render.listing(("name", "methods", "data", "controls", "serving", "credentials", "notes"), cells,
                   title="providers", records=rows)


def _parse_options(pairs: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` pairs as an options table; values are JSON when they parse as JSON, else text."""
    import json

    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--option")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


@providers_app.command("check")
def providers_check(
    name: str = typer.Argument(..., help="Provider name, as in `tuneops providers list`."),
    option: list[str] = typer.Option([], "--option", "-o", help="A provider option KEY=VALUE, as in the "
                                     "spec's [options.NAME] table, or a connection setting (e.g. "
                                     "endpoint=...); repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check that a provider's credentials are set and accepted: one cheap authenticated call."""
    import os

    from tuneops import registry
    from tuneops.errors import MissingCredential
    from tuneops.provider import ProviderConfig
    from tuneops.userconfig import connection

    try:
        options = {**connection(name, os.environ), **_parse_options(option)}
        provider = registry.create(name, ProviderConfig(options=options))
    except MissingCredential as exc:
        results = [(False, str(exc))]
    else:
        try:
            check = getattr(provider, "check", None)
            results = list(check()) if check else [(True, "credentials are set; this provider offers no "
                                                         "live check")]
        finally:
            provider.close()
    if as_json:
        state.print_json({"provider": name, "ok": all(ok for ok, _ in results),
                          "checks": [{"ok": ok, "message": message} for ok, message in results]})
    else:
        from rich.markup import escape

        out = state.console()
        for ok, message in results:  # provider messages may hold [brackets]: not markup
            out.print(f"{'[green]ok[/]  ' if ok else '[red]FAIL[/]'} {name}: {escape(message)}", soft_wrap=True)
    if not all(ok for ok, _ in results):
        raise typer.Exit(1)


@providers_app.command("models")
def providers_models(
    name: str = typer.Argument(..., help="Provider name, as in `tuneops providers list`."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The base models a provider fine-tunes, with sizes, methods and shutdown dates where published."""
    from rich.markup import escape

    from tuneops import basemodels, registry
    from tuneops.errors import ProviderNotFound

    if name not in registry.names():
        raise ProviderNotFound(name, registry.names(), "providers models")
    models = basemodels.known(name)
    rows = [{"id": m.id, "aliases": list(m.aliases), "params_b": m.params_b, "methods": sorted(m.methods),
             "training_ends": m.training_ends.isoformat() if m.training_ends else None,
             "retires": m.retires.isoformat() if m.retires else None, "status": m.status, "source": m.source,
             "confidence": m.confidence} for m in models]
    if as_json:
        state.print_json({"provider": name, "models": rows})
        return
    out = state.console()
    if not rows:
        out.print(f"{escape(name)} lists no base models; any model its API accepts can be tried")
        return
    shared = len({r["status"] for r in rows}) == 1  # one note for all rows is said once, below the table
    headers = ("model", "size", "methods", "no new jobs after", "shuts down", *(() if shared else ("status",)))
    table_rows = [(r["id"], f"{r['params_b']:g}B" if r["params_b"] else "-", ",".join(r["methods"]),
                   r["training_ends"] or "-", r["retires"] or "-", *(() if shared else (r["status"],)))
                  for r in rows]
    render.listing(headers, table_rows, title=f"{name}: tunable base models", records=rows)
    if shared and rows[0]["status"]:
        out.print(f"status: {escape(rows[0]['status'])}", soft_wrap=True)
    for source, confidence in dict.fromkeys((r["source"], r["confidence"]) for r in rows if r["source"]):
        out.print(f"[dim]source ({confidence}): {escape(source)}[/]", soft_wrap=True)


@providers_app.command("docs")
def providers_docs(
    names: list[str] = typer.Argument(None, help="Providers (default: every installed one with a page)."),
    docs_dir: Path = typer.Option(Path("docs/providers"), "--dir", help="Where the pages are."),
    write: bool = typer.Option(False, "--write", help="Rewrite the generated part of each page."),
) -> None:
    """Check (or with --write, rewrite) the generated part of docs/providers/<name>.md: options, base models, prices."""
    from tuneops import providerdocs, registry
    from tuneops.errors import TuneopsError

    stale = []
    names = names or [n for n in registry.names() if providerdocs.page(n, docs_dir).is_file()]
    if not names:  # "current" would claim a check that never ran
        raise TuneopsError(f"no provider pages in {docs_dir}; pass --dir with the folder holding <name>.md pages "
                           "(default: docs/providers, from the repository's root)")
    for name in names:
        text = providerdocs.current(name, docs_dir)
        if text is None:
            raise TuneopsError(f"{providerdocs.page(name, docs_dir)}: missing, or without the generated-part "
                               "markers; copy the layout of another provider's page")
        if text != providerdocs.page(name, docs_dir).read_text(encoding="utf-8"):
            stale.append(name)
            if write:
                providerdocs.page(name, docs_dir).write_text(text, encoding="utf-8")
    out = state.console()
    if stale and not write:
        out.print(f"out of date: {', '.join(stale)}; run `tuneops providers docs --write`")
        raise typer.Exit(1)
    out.print(f"rewrote: {', '.join(stale)}" if stale else "provider pages are current")
