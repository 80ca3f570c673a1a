"""`tuneops providers list|check`: what back ends are installed and whether their credentials work."""

from __future__ import annotations

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
    from tuneops.errors import TuneopsError

    rows = []
    for name in registry.names():
        try:
            info = registry.describe(name)
        except TuneopsError as exc:  # e.g. an optional SDK missing: list it, say why
            rows.append({"name": name, "error": str(exc)})
            continue
        rows.append(info)
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
                                     "spec's [options.NAME] table (e.g. endpoint=...); repeatable."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Check that a provider's credentials are set and accepted: one cheap authenticated call."""
    from tuneops import registry
    from tuneops.errors import MissingCredential
    from tuneops.provider import ProviderConfig

    try:
        provider = registry.create(name, ProviderConfig(options=_parse_options(option)))
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
