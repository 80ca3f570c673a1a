"""`tuneops init` and `tuneops quickstart`: start a project, or see the whole flow on the sandbox."""

from __future__ import annotations

from pathlib import Path

import typer

from tuneops.cli import state


def register(app: typer.Typer) -> None:
    """Add the project commands."""
    app.command("init")(init)
    app.command("quickstart")(quickstart)


def init(
    directory: Path = typer.Argument(Path("jobs"), help="Where to write the example job spec and data."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing example files."),
) -> None:
    """Write an example job spec and a small example dataset into jobs/."""
    from tuneops.examples import write_example

    written = write_example(directory, overwrite=force)
    out = state.console()
    for path in written:
        out.print(f"wrote {path}")
    if not written:
        out.print(f"{directory} already has the example (use --force to overwrite)")
    out.print(f"next: tuneops validate {directory / 'support-triage.toml'}")


def quickstart(
    keep: Path = typer.Option(None, "--keep", help="Keep the project in this directory instead of a "
                              "temporary one.", show_default=False),
    time_scale: float = typer.Option(4.0, "--time-scale", help="How fast sandbox jobs progress."),
    no_eval: bool = typer.Option(False, "--no-eval", help="Skip the eval and promotion step."),
    provider: str = typer.Option("sandbox", "--provider", help="sandbox, or local (LoRA on a tiny model "
                                 "built here; needs: pip install 'tuneops[local]')."),
) -> None:
    """Run the whole flow offline: sandbox, example project, submit, watch, model id, history."""
    from tuneops.errors import TuneopsError
    from tuneops.quickstart import run_quickstart

    if provider not in ("sandbox", "local"):
        raise TuneopsError(f"--provider {provider!r}: the quickstart runs on sandbox or local")
    raise typer.Exit(run_quickstart(keep, time_scale=time_scale, evaluate=not no_eval, provider=provider))
