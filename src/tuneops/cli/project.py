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
    from tuneops.errors import TuneopsError
    from tuneops.examples import write_example

    try:
        written = write_example(directory, overwrite=force)
    except OSError as exc:
        raise TuneopsError(f"cannot write the example into {directory}: {exc.strerror or exc}; pass a directory "
                           "you can write to (default: jobs)") from None
    kept = [p for p in sorted(directory.rglob("support-triage*")) if p.is_file() and p not in written]
    out = state.console()
    for path in written:
        out.print(f"wrote {path}", markup=False)
    for path in kept:
        out.print(f"kept {path} (it exists; --force overwrites it)", markup=False)
    out.print(f"next: tuneops validate {directory / 'support-triage.toml'}", markup=False)


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

    if not 0 < time_scale < float("inf"):
        raise typer.BadParameter(f"{time_scale} is not a speed; give a number above 0", param_hint="'--time-scale'")
    if provider not in ("sandbox", "local"):
        raise TuneopsError(f"--provider {provider!r}: the quickstart runs on sandbox or local")
    if keep is not None:
        try:
            keep.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise typer.BadParameter(f"cannot make the directory {keep}: {exc.strerror or exc}; name a new or "
                                     "existing directory you can write to", param_hint="'--keep'") from None
    raise typer.Exit(run_quickstart(keep, time_scale=time_scale, evaluate=not no_eval, provider=provider))
