"""`tuneops submit --pilot N` (or a spec's [pilot]): the pilot run, its verdict, then the full run."""

from __future__ import annotations

from typing import Any

from tuneops.cli import render, state


def run_pilot(orch: Any, loaded: Any, examples: int | None, provider: str | None, *, quiet: bool) -> Any:
    """Run the pilot and print its verdict; the full run when the gate passed, else None."""
    from rich.markup import escape

    from tuneops.runs.pilot import submit_with_pilot

    out = state.err_console() if quiet else state.console()

    def started(run: Any) -> None:
        out.print(f"pilot run {run.id}: {render.state(run.state)} at {run.provider} ({escape(run.trigger)}); "
                  "watching")

    result = submit_with_pilot(orch, loaded, examples=examples, provider=provider, interval=0.5, on_pilot=started)
    out.print(("[green]" if result.passed else "[yellow]") + escape(result.message) + "[/]")
    if result.full is None:
        out.print("the full run was not admitted; nothing more was uploaded or spent")
    return result.full
