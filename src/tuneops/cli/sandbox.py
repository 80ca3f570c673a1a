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
    port: int = typer.Option(8765, help="Port to bind."),
    time_scale: float = typer.Option(1.0, "--time-scale", help="Job progress speed multiplier."),
    faults: str = typer.Option(None, "--faults", help="Fault injection as JSON, e.g. "
                               "'{\"rate_429\": 0.1, \"retry_after\": 1}'.", show_default=False),
    seed: int = typer.Option(0, help="Seed for fault injection."),
) -> None:
    """Serve the sandbox until interrupted; point providers at it with TUNEOPS_SANDBOX_URL."""
    import json

    from tuneops.sandbox import FaultConfig
    from tuneops.sandbox import serve as run

    fault_config = FaultConfig(**json.loads(faults)) if faults else None
    typer.echo(f"sandbox (a local stand-in, not an LLM) on http://{host}:{port}/v1 — Ctrl-C to stop",
               err=True)
    run(host=host, port=port, time_scale=time_scale, faults=fault_config, seed=seed)
