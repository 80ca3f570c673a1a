"""`tuneops validate`, `tuneops estimate` and `tuneops data convert`: preflight, cost per provider, and
other dataset shapes turned into chat JSONL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from tuneops.cli import state

if TYPE_CHECKING:
    from tuneops.datasets.preflight import PreflightReport

_SEV_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_SEV_TITLE = {"error": "errors", "warning": "warnings", "info": "notes"}


data_app = typer.Typer(help="Dataset tools: convert other shapes to chat JSONL.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the validate and estimate commands and the data group."""
    app.command("validate")(validate)
    app.command("estimate")(estimate)
    data_app.command("convert")(convert)
    app.add_typer(data_app, name="data")


def convert(
    source: Path = typer.Argument(..., help="prompt/completion JSONL, or CSV with text and label columns."),
    output: Path = typer.Option(..., "--output", "-o", help="The chat JSONL file to write (must not exist)."),
    system: str = typer.Option(None, "--system", help="A system prompt to put first in every example."),
    text_column: str = typer.Option("text", "--text-column", help="CSV: the column with the input text."),
    label_column: str = typer.Option("label", "--label-column", help="CSV: the column with the answer."),
    prompt_key: str = typer.Option("prompt", "--prompt-key", help="JSONL: the key of the prompt."),
    completion_key: str = typer.Option("completion", "--completion-key", help="JSONL: the key of the answer."),
    force: bool = typer.Option(False, "--force", help="Replace the output file if it exists."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Turn prompt/completion JSONL or CSV (text,label) into chat JSONL, reporting what was done."""
    from rich.markup import escape

    from tuneops.datasets.tochat import MAX_SKIPPED_SHOWN, convert_file

    report = convert_file(source, output, system=system, force=force, text_col=text_column,
                          label_col=label_column, prompt_key=prompt_key, completion_key=completion_key)
    if as_json:
        state.print_json(report.to_dict())
        return
    con = state.console()
    what = f"{report.converted:,} example(s) from {report.shape}"
    if report.already_chat:
        what += f", {report.already_chat:,} already in chat form"
    con.print(f"[green]✓[/] wrote {escape(report.output)}: {what}"
              + ("; each starts with the system prompt" if report.system else ""), soft_wrap=True)
    if report.skipped:
        con.print(f"[yellow]skipped {len(report.skipped):,} line(s)[/]:")
        for n, reason in report.skipped[:MAX_SKIPPED_SHOWN]:
            con.print(f"  {escape(report.source)}:{n}: {escape(reason)}", soft_wrap=True)
        if len(report.skipped) > MAX_SKIPPED_SHOWN:
            con.print(f"  [dim]… {len(report.skipped) - MAX_SKIPPED_SHOWN:,} more (--json lists every one)[/]")
    con.print("next: point data.train at it and run `tuneops validate jobs/<name>.toml`")


def _providers(value: str | None) -> list[str] | None:
    return [p.strip() for p in value.split(",") if p.strip()] if value else None


def _preflight(spec_path: str, providers: str | None, no_cache: bool, *, require: bool = True) -> PreflightReport:
    from tuneops import spec as specmod
    from tuneops.api import validate
    from tuneops.errors import SpecError

    loaded = specmod.load(spec_path, check_provider=False, check_options=False)
    names = _providers(providers)
    # Every provider's missing and misspelt options at once, not one error per attempt.
    problems = specmod.option_problems(loaded.path.read_text(encoding="utf-8"), loaded.spec,
                                       (names or [loaded.spec.model.provider]) if require else [])
    if problems:
        raise SpecError(str(loaded.path), problems)
    from tuneops.cli import render

    with render.phase(f"{loaded.spec.name}: checking the data"):
        return validate(loaded.path, providers=names, cache=not no_cache)


def validate(
    spec: str = typer.Argument(..., help="A job spec (jobs/<name>.toml)."),
    providers: str = typer.Option(None, "--providers", help="Check for these providers (comma-separated) "
                                  "instead of the spec's own."),
    as_json: bool = typer.Option(False, "--json", help="Print the full report (every finding) as JSON."),
    max_findings: int = typer.Option(40, "--max-findings", min=0, help="Findings to show in the terminal."),
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
    from rich.markup import escape
    from rich.table import Table

    from tuneops.datasets.findings import SEVERITIES, grouped

    con = state.console()
    tok = report.tokenizer
    exact = "exact" if tok.exact else "[yellow]approximate[/]"
    con.print(f"[bold]{escape(str(report.spec))}[/]  {report.method} for {', '.join(report.providers)}  "
              f"model {escape(report.model)}  tokens: {tok.used} ({exact})")
    _billed(con, report)
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
    groups = grouped(report.findings)
    for sev in SEVERITIES:
        mine = [g for g in groups if g[1] == sev]
        if not mine:
            continue
        n_sev = sum(len(g[2]) for g in mine)
        con.print(f"[{_SEV_STYLE[sev]}]{_SEV_TITLE[sev]}[/] ({n_sev:,})", highlight=False)
        for code, _, items in mine:
            if shown >= max_findings:
                break
            con.print(f"  {code} ×{len(items):,}", highlight=False)
            rows = same_message(items)
            for text in rows[:min(5, max_findings - shown)]:
                con.print(f"    {text}", highlight=False, markup=False, soft_wrap=True)
                shown += 1
            if len(rows) > 5:
                con.print(f"    [dim]… {len(rows) - 5:,} more[/]")
    total = len(report.findings)
    if total > shown:
        con.print(f"[dim]{total - shown:,} more findings not shown; --json lists every one[/]")
    c = report.counts
    mark = "[bold red]✗[/]" if c["error"] else "[green]✓[/]"
    hits, misses = report.cache.get("hits", 0), report.cache.get("misses", 0)
    cached = f"; {hits / (hits + misses):.0%} from cache" if hits + misses and hits else ""
    approx = "" if tok.exact else (f"; [yellow]token counts approximate ({tok.used}"
                                   + (", 4 bytes per token: no BPE encoding available" if tok.used == "bytes/4" else "")
                                   + ")[/]")
    con.print(f"{mark} {c['error']:,} error(s), {c['warning']:,} warning(s), {c['info']:,} info{approx} "
              f"[dim](checked in {report.elapsed_s:.2f}s{cached})[/]")


def same_message(items: list[Any]) -> list[str]:
    """Findings of one kind as lines of text, those repeating one message on many lines folded into one
    (``file:3, 8, 12 (+40 more lines): field: message``)."""
    by: dict[tuple[str, str | None, str], list[int]] = {}
    loose = []
    for f in items:
        if f.line is None:
            loose.append(str(f))
        else:
            by.setdefault((f.file, f.field, f.message), []).append(f.line)
    out = loose
    for (file, fld, message), lines in by.items():
        where = ", ".join(map(str, lines[:3])) + (f" (+{len(lines) - 3:,} more lines)" if len(lines) > 3 else "")
        out.append(f"{file}:{where}:{f' {fld}:' if fld else ''} {message}")
    return out


def _billed(con: Any, report: PreflightReport) -> None:
    """Billed tokens per epoch and in total for each provider (the capped figure providers charge)."""
    from tuneops import economics
    from tuneops import spec as specmod

    try:
        job = specmod.load(report.spec, check_files=False, check_provider=False).spec
    except Exception:  # the spec was loaded a moment ago; a race with an editor only loses this line
        return
    per_epoch = report.tokens
    parts = []
    for p in report.providers:
        est = economics.estimate(job.with_provider(p), per_epoch, report.examples, p)
        parts.append(f"{p}: {per_epoch:,} per epoch × {est.epochs} = {est.trained_tokens:,}")
    con.print(f"billed training tokens: {'; '.join(parts)}", highlight=False, soft_wrap=True)


def _blocks(report: PreflightReport) -> list[tuple[str, dict[str, Any]]]:
    stats = report.stats
    if "split" in stats:
        return [("train (after split)", stats["split"]["train"]), ("validation (split)", stats["split"]["validation"])]
    out = [("train", stats["train"])]
    if "validation" in stats:
        out.append(("validation", stats["validation"]))
    if "eval" in stats:
        out.append(("eval", stats["eval"]))
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

    report = _preflight(spec, providers, no_cache, require=False)
    job = specmod.load(spec, check_provider=False, check_options=False).spec
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


_CONFIDENCE = ("first-party", "third-party")
# Cell colours of the estimate table: unknown prices and refusals stand out.
_ESTIMATE_STYLE = {"unknown": "yellow", "third-party": "yellow", "refused†": "red", "over": "red", "ok": "green",
                   "ok,": "yellow"}


def _render_estimates(report: PreflightReport, job: Any, ests: list[Any]) -> None:
    from rich.markup import escape

    from tuneops.cli import render
    from tuneops.economics import format_usd

    con = state.console()
    title = (f"{report.spec}: {job.model.base} ({job.method}), {report.examples:,} examples, "
             f"{report.tokens:,} tokens per epoch" + ("" if report.token_count_exact else " (approximate token count)"))
    per_run = job.budget.per_run_microusd
    show_time = any(e.time_s is not None for e in ests)
    cols = ["provider", "epochs", "trained tokens", "per 1M", "estimate", "confidence"]
    cols += ["time"] if show_time else []
    cols += ["budget"] if per_run is not None else []
    rows = []
    for e in ests:
        cost = format_usd(e.microusd) if e.microusd is not None else "unknown"
        rate = format_usd(e.microusd_per_mtok) if e.microusd_per_mtok is not None else "unknown"
        row = [e.provider, f"{e.epochs}" + ("" if e.epochs_rule == "set in the spec" else "*"),
               f"{e.trained_tokens:,}", rate, cost, e.confidence if e.confidence in _CONFIDENCE else "-"]
        if show_time:
            row.append("unknown" if e.time_s is None else f"{e.time_s:,}s")
        if per_run is not None:
            if e.microusd is None:
                row.append("refused†")
            else:
                ok = "ok" if e.confidence != "third-party" else "ok, warned‡"
                row.append(ok if e.microusd <= per_run else f"over {format_usd(per_run)}")
        rows.append(row)
    if render.plain():  # piped: the title on a line of its own, then one line per provider, never cut
        con.print(title, markup=False)
    render.listing(cols, rows, title=title, style=lambda i, v: _ESTIMATE_STYLE.get(v.split(" ")[0], ""))
    if per_run is not None and any(e.microusd is None for e in ests):
        con.print("[dim]† refused at submit: the spec sets a budget and this price is unknown (add a sourced "
                  "price to .tuneops/pricing.toml)[/]")
    if per_run is not None and any(e.confidence == "third-party" for e in ests):
        con.print("[dim]‡ admitted with a warning: the price is a third-party transcription, not the provider's own "
                  "page[/]")
    for e in ests:
        if e.epochs_rule != "set in the spec":
            con.print(f"[dim]* {e.provider}: {e.epochs_rule}[/]")
    for e in ests:
        if e.note:
            con.print(f"[dim]{e.provider}: {escape(e.note)}[/]", soft_wrap=True)
        if e.price_source:
            con.print(f"[dim]{e.provider} price source ({e.confidence or 'unknown price'}): "
                      f"{escape(e.price_source)}[/]", soft_wrap=True)
        if e.hosting_microusd_per_hour or e.hosting_note:
            rate = format_usd(e.hosting_microusd_per_hour)
            con.print(f"[dim]{e.provider} serving: {rate} per hour" + (f" ({escape(e.hosting_note)})" if
                      e.hosting_note else "") + "[/]", soft_wrap=True)
    if not report.token_count_exact:
        con.print(f"[yellow]tokens:[/] {escape(report.tokenizer.note)}")
    if report.counts["error"]:
        con.print(f"[red]the data has {report.counts['error']:,} error(s); "
                  f"`tuneops validate {escape(str(report.spec))}` lists them (estimates count the usable examples)[/]")
