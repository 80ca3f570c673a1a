"""`tuneops webhooks serve`: receive OpenAI fine-tuning webhooks and sync the runs they name."""

from __future__ import annotations

import typer

from tuneops.cli import conventions, state

webhooks_app = typer.Typer(help="Receive provider webhooks so runs sync the moment they finish.",
                           no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the webhooks group."""
    app.add_typer(webhooks_app, name="webhooks")


@webhooks_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8787, "--port", min=1, max=65535, help="Port to listen on."),
    provider: list[str] = typer.Option(["openai"], "--provider", help="Ledger provider name(s) whose "
                                       "job ids these webhooks carry (repeatable)."),
) -> None:
    """Serve POST /webhooks/openai: verify each delivery (OPENAI_WEBHOOK_SECRET) and sync its run once."""
    import logging

    from tuneops.netsafe import check_listen
    from tuneops.runs import webhooks

    check_listen(host, port)
    receiver = webhooks.WebhookReceiver(state.store(), providers=provider)
    if not state.QUIET:
        conventions.log_at_least(logging.INFO)  # a server's log is its output: each delivery, one line
    state.err_console().print(f"receiving webhooks at http://{host}:{port}{webhooks.WEBHOOK_PATH} "
                              f"for runs at {', '.join(provider)}; point the provider's webhook endpoint "
                              "at it through an HTTPS proxy or tunnel", markup=False)
    webhooks.serve(receiver, host=host, port=port)
