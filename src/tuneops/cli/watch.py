"""Following a run live: a one-line status with progress that updates until the run finishes."""

from __future__ import annotations

import json
import time

from rich.markup import escape

from tuneops.cli import render, state
from tuneops.runs.orchestrator import Orchestrator
from tuneops.store import queries
from tuneops.store.tables import RunRow


def _progress(orch: Orchestrator, run: RunRow) -> tuple[int | None, int | None, str]:
    """(step, total steps, last message) from the run's stored provider events."""
    with orch.store.read() as s:
        events = queries.run_events(s, run.id, kinds=("provider",), limit=30)
    step = total = None
    message = ""
    for ev in events:
        data = json.loads(ev.data) if ev.data else {}
        if "step" in data:  # the furthest step: providers list a second's events in no stable order
            step, total = max(step or 0, data.get("step") or 0), data.get("total_steps", total)
        else:
            message = ev.message
    if run.state == "succeeded" and total:
        step = total  # the last step's event may come after the job already reported success
    return step, total, message


def follow(orch: Orchestrator, run_id: str, *, interval: float = 2.0, quiet: bool = False) -> RunRow:
    """Advance and display a run until it is terminal; returns the final run."""
    from rich.text import Text

    start = time.monotonic()
    run = orch.get(run_id)
    console = state.err_console()

    def line(r: RunRow) -> Text:
        step, total, message = _progress(orch, r)
        bar = ""
        if step and total:
            done = int(20 * min(step, total) / total)
            bar = f" [{'#' * done}{'.' * (20 - done)}] step {step}/{total}"
        elapsed = time.monotonic() - start
        return Text.from_markup(f"{r.id} {render.state(r.state)}{escape(bar)}  {elapsed:5.1f}s  "
                                f"[dim]{escape(message[:60])}[/]")

    if quiet or state.QUIET:
        return orch.watch(run_id, interval=interval)
    if not console.is_terminal:
        # Logs and CI: one line per state change instead of a redrawn status line.
        console.print(line(run))
        last = run.state
        while run.state not in queries.TERMINAL_STATES:
            run = orch.advance(run)
            if run.state != last:
                console.print(line(run))
                last = run.state
            if run.state not in queries.TERMINAL_STATES:
                time.sleep(interval * (2 if run.state in ("queued", "pending", "validating") else 1))
    else:
        run = _live(orch, run, line, console, interval)
    return _summary(run)


def _live(orch: Orchestrator, run: RunRow, line, console, interval: float) -> RunRow:  # type: ignore[no-untyped-def]
    from rich.live import Live

    with Live(line(run), console=console, refresh_per_second=4, transient=False) as live:
        while run.state not in queries.TERMINAL_STATES:
            run = orch.advance(run)
            live.update(line(run))
            if run.state in queries.TERMINAL_STATES:
                break
            time.sleep(interval * (2 if run.state in ("queued", "pending", "validating") else 1))
    return run


def _summary(run: RunRow) -> RunRow:
    out = state.console()
    if run.state == "succeeded":
        out.print(f"[green]succeeded[/]: model {escape(run.model_id or '')}  "
                  f"(cost {render.usd(run.cost_microusd)}, estimate {render.usd(run.estimate_microusd)})")
    elif run.state == "failed":
        out.print(f"[red]failed[/]: {escape(run.error_code or '')} {escape(run.error_message or '')}")
    else:
        out.print(f"run {run.id} is {render.state(run.state)}")
    return run
