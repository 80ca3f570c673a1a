"""`tuneops runs metrics RUN`: a run's loss curves in the terminal, as PNG or HTML, with an overfitting check."""

from __future__ import annotations

from pathlib import Path

import typer

from tuneops.cli import state
from tuneops.cli.runs import runs_app


def register(app: typer.Typer) -> None:
    """Add `metrics` to the runs group (the group itself is added to ``app`` by tuneops.cli.runs)."""
    runs_app.command("metrics")(runs_metrics)


def runs_metrics(
    run_id: str = typer.Argument(..., help="Run id (or a unique prefix)."),
    png: Path = typer.Option(None, "--png", help="Also draw the curves into this PNG file "
                             "(needs: pip install 'tuneops[plot]').", show_default=False),
    html: Path = typer.Option(None, "--html", help="Also write a standalone HTML page with the curves.",
                              show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the series and the verdict as JSON."),
) -> None:
    """Training and validation loss of a run by step, and whether it looks overfit."""
    from tuneops.cli.conventions import output_file
    from tuneops.errors import TuneopsError
    from tuneops.runs import curves
    from tuneops.store import queries

    png, html = output_file(png, "--png", "curves.png"), output_file(html, "--html", "curves.html")
    store = state.store(read_only=True)
    with store.read() as s:
        run = queries.get_run(s, run_id)
        points = list(queries.metric_points(s, run.id))
    by_key = curves.all_series(points)
    train, valid = by_key["train_loss"], by_key["valid_loss"]
    verdict = curves.detect_overfitting(points)
    title = f"loss of run {run.id} ({run.job_name})"
    mark = verdict.from_step if verdict.flag else None
    written: list[str] = []
    if (png or html) and not (train or valid):
        raise TuneopsError(f"run {run.id} has no loss values yet (state {run.state}); nothing to draw. "
                           "They are stored as `tuneops sync` polls the run")
    if png:
        written.append(str(curves.write_png(png, train, valid, title=title, mark_step=mark)))
    if html:
        written.append(str(curves.write_html(html, train, valid, title=title, verdict=verdict)))

    if as_json:
        state.print_json({"run_id": run.id, "job_name": run.job_name, "state": run.state,
                          "points": len(points),
                          "series": {key: s.pairs() for key, s in by_key.items()},
                          "overfitting": verdict, "files": written})
        return
    out = state.console()
    if not (train or valid):
        out.print(f"run {run.id} has no metrics yet (state {run.state}); "
                  "they are stored as `tuneops sync` polls the run")
        return
    from rich.text import Text

    # Terminal-width aware, within limits that keep the curves legible.
    width = max(40, min(out.width, 160))
    height = max(12, min(24, width // 4))
    out.print(Text.from_ansi(curves.terminal_plot(train, valid, width=width, height=height, title=title,
                                                  mark_step=mark, color=out.is_terminal and not out.no_color)))
    for s in (train, valid):
        if s:
            best = min(range(len(s)), key=lambda i: s.values[i])
            out.print(f"{s.label}: last {s.values[-1]:.4g} at step {s.steps[-1]}, "
                      f"lowest {s.values[best]:.4g} at step {s.steps[best]}")
    if verdict.flag:
        out.print(f"[bold yellow]warning: possible overfitting:[/] {verdict.reason}")
    else:
        out.print(f"[dim]overfitting check: {verdict.reason}[/]")
    for path in written:
        out.print(f"wrote {path}", markup=False)
