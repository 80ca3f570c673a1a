"""The ``tuneops`` command line: a typer app with one module per command group and no business logic.

Command modules import heavy libraries (provider SDKs, tiktoken, SQLAlchemy) inside the commands
that need them, so ``tuneops --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from tuneops.cli import state

app = typer.Typer(
    name="tuneops",
    help="Hosted fine-tuning jobs as code: validate, estimate, submit, watch, evaluate, promote, retrain, audit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Each module defines register(app). Order is the order of `tuneops --help`.
COMMAND_MODULES = (
    "project",
    "data",
    "runs",
    "metrics",
    "evals",
    "models",
    "history",
    "schedule",
    "audit",
    "providers",
    "sandbox",
    "db",
    "webhooks",
)


@app.callback()
def _root(
    db: str = typer.Option(None, "--db", help="Ledger: a SQLite path or a database URL "
                           "(default: TUNEOPS_DATABASE_URL, else .tuneops/tuneops.db).",
                           show_default=False),
) -> None:
    state.DB = db


for _name in COMMAND_MODULES:
    importlib.import_module(f"tuneops.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and a non-zero exit code, never a traceback."""
    from tuneops.errors import TuneopsError

    try:
        # Standalone mode: click reports usage errors itself (exit 2) and ends every run with SystemExit,
        # whichever click typer bundles; only errors of ours come through as exceptions.
        app(args=argv, prog_name="tuneops", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TuneopsError as exc:
        from rich.markup import escape  # messages hold literal brackets: pip install 'tuneops[plot]'

        state.err_console().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        state.err_console().print("interrupted")
        return 130
    return 0


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
