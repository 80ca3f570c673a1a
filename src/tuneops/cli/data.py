"""`tuneops validate` and `tuneops estimate`: dataset preflight and cost, side by side per provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from tuneops.cli import state

if TYPE_CHECKING:
    from tuneops.datasets.preflight import PreflightReport

_SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def register(app: typer.Typer) -> None:
    """Add the validate and estimate commands."""
    app.command("validate")(validate)
    app.command("estimate")(estimate)


def _providers(value: str | None) -> list[str] | None:
    return [p.strip() for p in value.split(",") if p.strip()] if value else None


def _preflight(spec_path: str, providers: str | None, no_cache: bool) -> PreflightReport:
    from tuneops.api import validate

    return validate(spec_path, providers=_providers(providers), cache=not no_cache)


def validate(
    spec: str = typer.Argument(..., help="A job spec (jobs/<name>.toml)."),
    providers: str = typer.Option(None, "--providers", help="Check for these providers (comma-separated) "
                                  "instead of the spec's own."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report (every finding) as JSON."),
    max_findings: int = typer.Option(40, "--max-findings", help="Findings to show in the terminal."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Check every example again (ignore .tuneops/cache)."),
) -> None:
    """Preflight a spec's data: every problem with file:line, statistics, exit 2 when there are errors."""
    report = _preflight(spec, providers, no_cache)
    if as_json:
        state.print_json(report.to_dict())
    else:
        render_report(report, max_findings)
    if not report.ok:
        raise typer.Exit(2)


def render_report(report: PreflightReport, max_findings: int = 40) -> None:
    """The compact terminal summary: statistics, histogram, grouped findings, totals."""
    from rich.table import Table

    from tuneops.datasets.findings import grouped

    con = state.console()
    tok = report.tokenizer
    exact = "exact" if tok.exact else "[yellow]approximate[/]"
    con.print(f"[bold]{report.spec}[/]  {report.method} for {', '.join(report.providers)}  "
              f"model {report.model}  tokens: {tok.used} ({exact})")
    for name, block in _blocks(report):
        t, m = block["tokens"], block["messages"]
        con.print(f"[bold]{name}[/]: {block['examples']:,} examples, {m['total']:,} messages, "
                  f"{t['total']:,} tokens ({t['trainable']:,} trainable)")
        table = Table(show_edge=False, pad_edge=False)
        for col in ("per example", "min", "median", "p95", "max"):
            table.add_column(col, justify="right" if col != "per example" else "left")
        table.add_row("tokens", *(f"{t[k]:,}" for k in ("min", "median", "p95", "max")))
        table.add_row("messages", f"{m['min']:,}", f"{m['median']:,}", "", f"{m['max']:,}")
        con.print(table)
        _histogram(con, block["histogram"], tok.limit)
        if block.get("classes"):
            con.print("classes: " + ", ".join(f"{k!r} {v:,}" for k, v in list(block["classes"].items())[:12]))
    shown = 0
    for code, severity, items in grouped(report.findings):
        if shown >= max_findings:
            break
        style = _SEV_STYLE[severity]
        con.print(f"[{style}]{severity:<7}[/] {code} ×{len(items):,}", highlight=False)
        for f in items[:min(5, max_findings - shown)]:
            con.print(f"  {f}", highlight=False, markup=False, soft_wrap=True)
            shown += 1
        if len(items) > 5:
            con.print(f"  [dim]… {len(items) - 5:,} more[/]")
    total = len(report.findings)
    if total > shown:
        con.print(f"[dim]{total - shown:,} more findings not shown; --json lists every one[/]")
    c = report.counts
    mark = "[bold red]✗[/]" if c["error"] else "[green]✓[/]"
    hits, misses = report.cache.get("hits", 0), report.cache.get("misses", 0)
    cached = f"; {hits / (hits + misses):.0%} from cache" if hits + misses and hits else ""
    con.print(f"{mark} {c['error']:,} error(s), {c['warning']:,} warning(s), {c['info']:,} info "
              f"[dim](checked in {report.elapsed_s:.2f}s{cached})[/]")


def _blocks(report: PreflightReport) -> list[tuple[str, dict[str, Any]]]:
    stats = report.stats
    if "split" in stats:
        return [("train (after split)", stats["split"]["train"]), ("validation (split)", stats["split"]["validation"])]
    out = [("train", stats["train"])]
    if "validation" in stats:
        out.append(("validation", stats["validation"]))
    return out


def _histogram(con: Any, bins: list[dict[str, int]], limit: int | None, width: int = 40) -> None:
    if not bins:
        return
    top = max(b["count"] for b in bins) or 1
    con.print("[dim]  examples by length (tokens):[/]")
    for b in bins:
        over = " [red]over limit[/]" if limit is not None and b["lo"] > limit else ""
        bar = "█" * max(1 if b["count"] else 0, round(width * b["count"] / top))
        con.print(f"  {b['lo']:>7,}–{b['hi']:<7,} {bar} {b['count']:,}{over}", highlight=False)


def estimate(
    spec: str = typer.Argument(..., help="A job spec (jobs/<name>.toml)."),
    providers: str = typer.Option(None, "--providers", help="Compare these providers (comma-separated)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Check every example again."),
) -> None:
    """Cost side by side: tokens x epochs (each provider's "auto" rule) x price; unknown prices marked."""
    from dataclasses import asdict

    from tuneops import api
    from tuneops import spec as specmod

    report = _preflight(spec, providers, no_cache)
    job = specmod.load(spec, check_provider=False).spec
    ests = api.estimate(spec, report=report)
    if as_json:
        state.print_json({"spec": report.spec, "examples": report.examples, "tokens": report.tokens,
                          "token_count_exact": report.token_count_exact, "tokenizer_note": report.tokenizer.note,
                          "data_errors": report.counts["error"],
                          "budget": {"per_run_microusd": job.budget.per_run_microusd,
                                     "per_month_microusd": job.budget.per_month_microusd},
                          "estimates": [asdict(e) for e in ests]})
        return
    _render_estimates(report, job, ests)


def _render_estimates(report: PreflightReport, job: Any, ests: list[Any]) -> None:
    from rich.table import Table

    from tuneops.economics import format_usd

    con = state.console()
    approx = "" if report.token_count_exact else " [yellow](approximate token count)[/]"
    table = Table(title=f"{report.spec}: {job.model.base} ({job.method}), {report.examples:,} examples, "
                        f"{report.tokens:,} tokens per epoch{approx}", title_justify="left")
    per_run = job.budget.per_run_microusd
    show_time = any(e.time_s is not None for e in ests)
    cols = ["provider", "epochs", "trained tokens", "per 1M", "estimate"]
    cols += ["time"] if show_time else []
    cols += ["budget"] if per_run is not None else []
    for col in cols:
        table.add_column(col, justify="left" if col in ("provider", "budget") else "right")
    for e in ests:
        cost = format_usd(e.microusd) if e.microusd is not None else "[yellow]unknown[/]"
        rate = format_usd(e.microusd_per_mtok) if e.microusd_per_mtok is not None else "[yellow]unknown[/]"
        row = [e.provider, f"{e.epochs}" + ("" if e.epochs_rule == "set in the spec" else "*"),
               f"{e.trained_tokens:,}", rate, cost]
        if show_time:
            row.append("unknown" if e.time_s is None else f"{e.time_s:,}s")
        if per_run is not None:
            if e.microusd is None:
                row.append("[red]refused†[/]")
            else:
                row.append("[green]ok[/]" if e.microusd <= per_run else f"[red]over {format_usd(per_run)}[/]")
        table.add_row(*row)
    con.print(table)
    if per_run is not None and any(e.microusd is None for e in ests):
        con.print("[dim]† refused at submit: the spec sets a budget and this price is unknown (add a sourced "
                  "price to .tuneops/pricing.toml)[/]")
    for e in ests:
        if e.epochs_rule != "set in the spec":
            con.print(f"[dim]* {e.provider}: {e.epochs_rule}[/]")
    for e in ests:
        if e.note:
            con.print(f"[dim]{e.provider}: {e.note}[/]", soft_wrap=True)
        if e.price_source:
            con.print(f"[dim]{e.provider} price source: {e.price_source}[/]", soft_wrap=True)
    if not report.token_count_exact:
        con.print(f"[yellow]tokens:[/] {report.tokenizer.note}")
    if report.counts["error"]:
        con.print(f"[red]the data has {report.counts['error']:,} error(s); `tuneops validate {report.spec}` "
                  "lists them (estimates count the usable examples)[/]")
