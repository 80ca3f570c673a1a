"""How runs, events and listings look in the terminal and in --json."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

STATE_STYLE = {
    "succeeded": "green", "failed": "red", "cancelled": "yellow", "running": "cyan",
    "queued": "blue", "validating": "blue", "pending": "blue", "paused": "magenta",
    "unknown": "bold red", "admitted": "dim", "submitting": "dim",
}


def usd(microusd: int | None) -> str:
    """Micro-dollars as a dollar string; '?' when unknown."""
    if microusd is None:
        return "?"
    return f"${microusd / 1_000_000:,.2f}" if microusd >= 10_000 or microusd == 0 else \
        f"${microusd / 1_000_000:,.4f}"


def when(value: datetime | None) -> str:
    """A UTC time for tables."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def state(value: str) -> str:
    """A run state with its colour."""
    style = STATE_STYLE.get(value, "")
    return f"[{style}]{value}[/]" if style else value


def columns(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Rows as plain aligned text, one line each (like ``kubectl get``); the last column is never padded or cut.

    For listings a user scans and greps: no box drawing, no wrapping inside cells, and no rich layout pass
    (which costs more than the query for 30 rows).
    """
    lines = [tuple(" ".join(cell.split()) for cell in row) for row in [headers, *rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(line, widths, strict=False)), line[-1]]).rstrip()
                     for line in lines)


def run_dict(run: Any) -> dict[str, Any]:
    """A run as JSON-able data (the shape of every --json listing of runs)."""
    data = run.model_dump(exclude={"spec_json", "raw_job", "lease_owner", "lease_expires_at"})
    data["spec"] = json.loads(run.spec_json)
    from tuneops.datasets.billing import estimate_vs_actual

    data["estimate_vs_actual"] = estimate_vs_actual(run)
    return data


def runs_table(runs: list[Any], title: str = "runs") -> Table:
    """Runs as a table, newest first."""
    from rich.table import Table  # here, not at import: most commands print no table

    table = Table(title=title, title_justify="left", show_lines=False)
    for col in ("run", "job", "provider", "state", "provider job", "model", "est.", "cost", "created (UTC)"):
        table.add_column(col, overflow="fold")
    for r in runs:
        table.add_row(r.id, r.job_name, r.provider, state(r.state), r.provider_job_id or "",
                      r.model_id or "", usd(r.estimate_microusd), usd(r.cost_microusd), when(r.created_at))
    return table
