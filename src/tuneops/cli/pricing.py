"""`tuneops pricing list|show`: the pricing catalog with each price's source, date and confidence."""

from __future__ import annotations

from typing import Any

import typer

from tuneops.cli import state

pricing_app = typer.Typer(help="The pricing catalog: sourced prices, or \"unknown\" with the reason.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the pricing group."""
    app.add_typer(pricing_app, name="pricing")


def _row(price: Any) -> dict[str, Any]:
    from tuneops.economics import NON_TRAINING

    band = ""
    if price.banded:
        lo, hi = price.min_params_b, price.max_params_b
        band = f"{lo:g}-{hi:g}B" if lo and hi else (f"up to {hi:g}B" if hi else f"over {lo:g}B")
    return {"provider": price.provider, "model": price.model, "method": price.method, "size": band,
            "training_type": price.training_type,
            "unit": "per hour" if price.method == "hosting_hour" else "per 1M tokens",
            "microusd": price.microusd_per_mtok, "confidence": price.confidence if price.microusd_per_mtok is not None
            else None, "source": price.source, "checked": price.checked, "note": price.note, "origin": price.origin,
            "training": price.method not in NON_TRAINING}


def _table(rows: list[dict[str, Any]], title: str) -> None:
    """The catalog as a listing: a table on a terminal, one line per price when piped (see render.listing)."""
    from tuneops.cli import render
    from tuneops.economics import format_usd

    cells = []
    for r in rows:
        price = format_usd(r["microusd"]) if r["microusd"] is not None else "unknown"
        unit = "/h" if r["unit"] == "per hour" else "/1M"
        size = " ".join(x for x in (r["size"], r["training_type"] or "") if x) or "-"
        cells.append((r["provider"], r["model"], r["method"], size, f"{price}{unit}", r["confidence"] or "-",
                      r["checked"]))
    render.listing(("provider", "model", "method", "size", "price", "confidence", "checked"), cells, title=title,
                   records=rows, style=lambda i, v: "yellow" if (i, v.split("/")[0]) in ((4, "unknown"),
                                                                                      (5, "third-party")) else "")


@pricing_app.command("list")
def pricing_list(
    provider: str = typer.Option(None, "--provider", help="Only this provider.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every catalog entry (your pricing file's first), one line each."""
    from rich.markup import escape

    from tuneops import economics
    from tuneops.cli import render

    rows = [_row(p) for p in economics.catalog() if provider in (None, p.provider)]
    if not rows and provider is not None:
        from tuneops import registry
        from tuneops.errors import ProviderNotFound

        raise ProviderNotFound(provider, registry.names(), "pricing list --provider")
    if as_json:
        state.print_json(rows)
        return
    _table(rows, "pricing catalog" + (f": {provider}" if provider else "") + " (first matching entry wins)")
    if not render.plain():  # piped, the listing is rows only
        override = economics.override_path()
        state.console().print(f"[dim]your prices: {escape(str(override or 'none'))} (.tuneops/pricing.toml or "
                              "TUNEOPS_PRICING); `tuneops pricing show PROVIDER [MODEL]` gives sources and notes[/]")


@pricing_app.command("show")
def pricing_show(
    provider: str = typer.Argument(..., help="Provider name."),
    model: str = typer.Argument(None, help="A base model: show the prices that apply to it.", show_default=False),
    method: str = typer.Option("sft", "--method", help="Training method the model's price is shown for."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """A provider's prices with source, date, confidence and note; with MODEL, the ones that apply to it."""
    from rich.markup import escape

    from tuneops import economics, registry
    from tuneops.errors import ProviderNotFound

    if provider not in registry.names():
        raise ProviderNotFound(provider, registry.names(), "pricing show")
    if model is None:
        rows = [_row(p) for p in economics.catalog() if p.provider in (provider, "*")]
    else:
        found = [economics.price_for(provider, model, m) for m in (method, "infer_input", "infer_output",
                                                                    "hosting_hour")]
        rows = [_row(p) for p in found if p is not None]
    if as_json:
        state.print_json({"provider": provider, "model": model, "prices": rows})
        return
    con = state.console()
    title = f"{provider}" + (f" {model} ({method})" if model else "")
    for r in rows:
        price = economics.format_usd(r["microusd"]) if r["microusd"] is not None else "[yellow]unknown[/]"
        what = " ".join(x for x in (r["model"], r["method"], r["size"], r["training_type"] or "") if x)
        con.print(f"[bold]{escape(what)}[/]: {price} {r['unit']}"
                  + (f" ({r['confidence']})" if r["confidence"] else ""), soft_wrap=True)
        con.print(f"  source: {escape(r['source'])} (checked {r['checked']})", soft_wrap=True, highlight=False)
        if r["note"]:
            con.print(f"  [dim]{escape(r['note'])}[/]", soft_wrap=True)
    if not rows:
        con.print(f"no catalog entry for {escape(title)}")
