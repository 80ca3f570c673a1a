"""`tuneops roi JOB|ALIAS`: does the fine-tune pay for itself, and when (every input with its source)."""

from __future__ import annotations

from typing import Any

import typer

from tuneops.cli import state


def summary_lines(data: dict[str, Any]) -> list[str]:
    """The verdict in a few lines (also shown by `models show` and the HTML report)."""
    from tuneops.roi import usd

    q = data["quality"]
    quality = "quality delta unknown"
    if q["delta"] is not None:
        ci = q["ci"]
        quality = f"{q['metric']} delta {q['delta']:+.4f}, 95% CI [{ci[0]:+.4f}, {ci[1]:+.4f}]"
    if data["pays_off"] is None:
        when = "break-even unknown (an input is unknown)"
    elif data["pays_off"] is False:
        when = "never breaks even at this traffic (savings per month are not positive)"
    elif data["break_even_requests"] == 0:
        when = "paid for from the start (nothing spent up front)"
    else:
        at = data["break_even_at"]
        when = (f"breaks even after {data['break_even_requests']:,} requests "
                f"(~{data['break_even_months']:.2f} months, around {at:%Y-%m-%d})")
    value = data["value_per_request_microusd"]
    # Savings count the quality gain at [economics] value_per_correct_usd: say so, or $0 vs $0 reads as a bug.
    worth = f" (of which {usd(value)}/request is the quality gain's value)" if value else ""
    return [f"monthly cost without fine-tune {usd(data['monthly_cost_without_microusd'])}, "
            f"with {usd(data['monthly_cost_with_microusd'])}; "
            f"savings {usd(data['monthly_savings_microusd'])}/month, "
            f"{usd(data['savings_per_request_microusd'])}/request{worth}",
            f"spent up front {usd(data['upfront_microusd'])}: {when}", quality]


def print_report(data: dict[str, Any]) -> None:
    """The inputs with their sources, then the verdict."""
    from rich.markup import escape
    from rich.table import Table

    out = state.console()
    who = f"{data['alias']} -> {data['model']}" if data["alias"] else data["model"]
    out.print(f"ROI of {escape(who)} (job {escape(data['job'])})")
    table = Table(title="inputs", title_justify="left")
    for col in ("input", "value", "source"):
        table.add_column(col, overflow="fold")
    for i in data["inputs"]:
        value = "unknown" if i["value"] is None else str(i["value"])  # never blank, never 0
        table.add_row(escape(i["name"]), value, escape(i["source"]))
    out.print(table)
    for line in summary_lines(data):
        out.print("  " + escape(line))
    for note in data["notes"]:
        out.print(f"  [dim]note: {escape(note)}[/]")


def register(app: typer.Typer) -> None:
    """Add `tuneops roi`."""

    @app.command("roi")
    def roi_cmd(
        ref: str = typer.Argument(..., help="A job (its promoted model, else its newest), an alias job@name, "
                                            "a model id or a run id."),
        as_json: bool = typer.Option(False, "--json", help="Print the inputs and the verdict as JSON."),
    ) -> None:
        """Does the fine-tune pay for itself? Costs with and without it, savings, break-even, quality."""
        from tuneops import roi

        with state.store().read() as s:
            data = roi.report(s, ref).as_dict()
        if as_json:
            state.print_json(data)
            return
        print_report(data)
