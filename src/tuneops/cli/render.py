"""How runs, events and listings look in the terminal and in --json."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

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


@contextmanager
def phase(text: str) -> Iterator[Callable[[str], None]]:
    """A spinner with the elapsed time on stderr while a long step runs, with a bar under it for each file
    the step checks, hashes or uploads (see ``cli.bars``); yields a function that renames it.

    Only on a terminal and without -q: logs, pipes and CI get no control characters.
    """
    from tuneops.cli import bars

    with bars.shown() as shown:
        if shown is None:
            yield lambda _text: None
            return
        with shown.spinner(text) as rename:
            yield rename


def in_order(events: list[Any]) -> list[Any]:
    """Run events oldest first: by the second they carry, then as recorded, a second's training steps in step order.

    A state change tuneops saw at 12 s is recorded before the provider's events of 11 s that the next
    poll fetches, so the order of recording alone runs backwards in time. Providers time events to the
    second, and ledgers written before their order was kept can hold step 114 before step 98.
    """
    out = sorted(events, key=lambda e: e.at.replace(microsecond=0) if e.at else datetime.min)
    by_time: dict[Any, list[int]] = {}
    for i, e in enumerate(out):
        if e.kind == "provider" and e.data and '"step"' in e.data:
            by_time.setdefault(e.at, []).append(i)
    for slots in by_time.values():
        steps = sorted((out[i] for i in slots), key=lambda e: json.loads(e.data).get("step", 0))
        for i, e in zip(slots, steps, strict=True):
            out[i] = e
    return out


def run_dict(run: Any) -> dict[str, Any]:
    """A run as JSON-able data (the shape of every --json listing of runs)."""
    data = run.model_dump(exclude={"spec_json", "raw_job", "lease_owner", "lease_expires_at"})
    data["spec"] = json.loads(run.spec_json)
    from tuneops.datasets.billing import estimate_vs_actual

    data["estimate_vs_actual"] = estimate_vs_actual(run)
    return data


def plain() -> bool:
    """Whether listings print as plain columns: ``--format plain``, or stdout is not a terminal."""
    from tuneops.cli import state as cli_state

    if cli_state.FORMAT:
        return cli_state.FORMAT != "table"
    return not sys.stdout.isatty()


def listing(headers: Sequence[str], rows: Sequence[Sequence[str]], *, title: str = "",
            records: list[Any] | None = None, style: Callable[[int, str], str] | None = None) -> None:
    """Print a listing: a rich table on a terminal, plain aligned columns when piped, JSON with --format json.

    Cells are plain text (never parsed as markup, so user text with [brackets] prints as is); ``style``
    may colour a cell by column index and value; ``records`` is what --format json prints (default: one
    object per row keyed by the headers).
    """
    from tuneops.cli import state as cli_state

    if cli_state.FORMAT == "json":
        cli_state.print_json(records if records is not None else [dict(zip(headers, r, strict=False)) for r in rows])
        return
    if plain():
        sys.stdout.write(columns(tuple(h.upper() for h in headers), [tuple(r) for r in rows]) + "\n")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title) if title else None, title_justify="left")
    for i, header in enumerate(headers):
        table.add_column(header, overflow="fold", no_wrap=i == 0)  # ids stay whole: they get copied
    for row in rows:
        table.add_row(*(Text(cell, style=style(i, cell) if style else "") for i, cell in enumerate(row)))
    cli_state.console().print(table)


def run_row(r: Any) -> tuple[str, ...]:
    """One run as the cells of a runs listing."""
    return (r.id, r.job_name, r.provider, r.state, r.provider_job_id or "", r.model_id or "",
            usd(r.estimate_microusd), usd(r.cost_microusd), when(r.created_at))


RUN_HEADERS = ("run", "job", "provider", "state", "provider job", "model", "est.", "cost", "created (UTC)")


def print_runs(runs: list[Any], title: str = "runs") -> None:
    """Runs as a listing (see ``listing``); --format json prints them as ``run_dict`` does."""
    listing(RUN_HEADERS, [run_row(r) for r in runs], title=title, records=[run_dict(r) for r in runs],
            style=lambda i, v: STATE_STYLE.get(v, "") if i == 3 else "")
