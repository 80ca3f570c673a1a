"""`tuneops sandbox serve`: the local OpenAI-compatible fine-tuning service (a stand-in, not an LLM)."""

from __future__ import annotations

import typer

sandbox_app = typer.Typer(help="The local sandbox: an OpenAI-compatible fine-tuning stand-in for offline "
                          "use and tests (a nearest-neighbour learner, not an LLM).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the sandbox command group."""
    app.add_typer(sandbox_app, name="sandbox")


@sandbox_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8765, min=0, max=65535, help="Port to bind."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="Job progress speed multiplier."),
    faults: str = typer.Option(None, "--faults", help="Fault injection as JSON, e.g. "
                               "'{\"rate_429\": 0.1, \"retry_after\": 1}'.", show_default=False),
    seed: int = typer.Option(0, help="Seed for fault injection."),
) -> None:
    """Serve the sandbox until interrupted; point providers at it with TUNEOPS_SANDBOX_URL."""
    from tuneops.netsafe import check_listen
    from tuneops.sandbox import FaultConfig
    from tuneops.sandbox import serve as run

    if not time_scale > 0 or time_scale == float("inf"):
        raise typer.BadParameter(f"{time_scale} is not a speed; give a number above 0 (1: real time)",
                                 param_hint="'--time-scale'")
    fault_config = _faults(faults, FaultConfig) if faults else None
    check_listen(host, port)
    typer.echo(f"sandbox (a local stand-in, not an LLM) on http://{host}:{port}/v1 — Ctrl-C to stop",
               err=True)
    run(host=host, port=port, time_scale=time_scale, faults=fault_config, seed=seed)


def _faults(text: str, config: type) -> object:
    """``--faults`` JSON as a FaultConfig, or a usage error that says what is wrong with it."""
    import json

    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("it must be a JSON object of settings")
        return config.from_dict(raw)  # type: ignore[attr-defined]
    except ValueError as exc:  # JSONDecodeError is a ValueError
        raise typer.BadParameter(f"{text[:80]!r}: {exc}; e.g. '{{\"rate_429\": 0.1, \"retry_after\": 1}}'",
                                 param_hint="'--faults'") from None
