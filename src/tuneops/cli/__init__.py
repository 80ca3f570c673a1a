"""The ``tuneops`` command line: a typer app with one module per command group and no business logic.

Command modules import heavy libraries (provider SDKs, tiktoken, SQLAlchemy) inside the commands
that need them, so ``tuneops --help`` stays fast.
"""

from __future__ import annotations

import importlib
import sys

import typer

from tuneops.cli import conventions, state

app = typer.Typer(
    name="tuneops",
    help="Hosted fine-tuning jobs as code: validate, estimate, submit, watch, evaluate, promote, retrain, audit.",
    no_args_is_help=True,
    # Plain click help: rich markup would eat "[eval]" in help texts; completion via --install-completion.
    rich_markup_mode=None,
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
    "deploy",
    "history",
    "schedule",
    "audit",
    "providers",
    "sandbox",
    "db",
    "webhooks",
    "pricing",
    "export",
    "roi",
    "report",
)


@app.callback()
def _root(
    db: str = typer.Option(None, "--db", help="Ledger: a SQLite path or a database URL "
                           "(default: TUNEOPS_DATABASE_URL, else .tuneops/tuneops.db).",
                           show_default=False),
    verbose: int = typer.Option(0, "--verbose", "-v", count=True, help="Log to stderr (-v: info, -vv: debug)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or notes on stderr; errors only."),
    fmt: str = typer.Option(None, "--format", metavar="table|plain|json", show_default=False,
                            help="How listings print (default: table on a terminal, plain columns otherwise)."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=conventions.print_version,
                                 help="Print the version and exit."),
) -> None:
    state.DB = db
    state.HTTP_TIMEOUT = None
    conventions.configure(verbose=verbose, quiet=quiet, fmt=fmt)


# The module(s) behind each top-level command, so a command imports and builds only its own
# (typer turns every registered command into a click command on each run: ~40 ms for all of them).
# tests/cli/test_startup.py checks this against what the modules register.
COMMANDS: dict[str, tuple[str, ...]] = {
    "init": ("project",), "quickstart": ("project",), "validate": ("data",), "estimate": ("data",),
    "submit": ("runs",), "plan": ("runs",), "sync": ("runs",), "runs": ("runs", "metrics"), "eval": ("evals",),
    "models": ("models",), "history": ("history",), "schedule": ("schedule",), "audit": ("audit",),
    "lineage": ("audit",), "providers": ("providers",), "sandbox": ("sandbox",), "db": ("db",),
    "webhooks": ("webhooks",), "data": ("data",), "deploy": ("deploy",), "undeploy": ("deploy",),
    "pricing": ("pricing",),
    "export": ("export",),
    "roi": ("roi",), "report": ("report",),
}
_registered: set[str] = set()


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The command modules an invocation needs: its command's, or all of them (help, no command, a typo)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("--db", "--format"):
            i += 2
        elif arg.startswith(("--db=", "--format=")) or arg in conventions.ROOT_FLAGS:
            i += 1
        elif arg == "--version":
            return ()
        elif arg.startswith("-"):
            return COMMAND_MODULES  # --help or an unknown option: click answers with every command
        else:
            return COMMANDS.get(arg, COMMAND_MODULES)
    return COMMAND_MODULES


def register(modules: tuple[str, ...] = COMMAND_MODULES) -> None:
    """Add these command modules to the app (each once), in the order of `tuneops --help`."""
    for name in COMMAND_MODULES:
        if name in modules and name not in _registered:
            importlib.import_module(f"tuneops.cli.{name}").register(app)
            _registered.add(name)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; user errors print one clear line and a non-zero exit code, never a traceback."""
    from tuneops.errors import TuneopsError

    register(modules_for(sys.argv[1:] if argv is None else argv))
    try:
        # Standalone mode: click reports usage errors itself (exit 2) and ends every run with SystemExit,
        # whichever click typer bundles; only errors of ours come through as exceptions.
        conventions.run(app, sys.argv[1:] if argv is None else argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TuneopsError as exc:
        from rich.markup import escape  # messages hold literal brackets: pip install 'tuneops[plot]'

        from tuneops.netsafe import scrub_urls

        state.err_console().print(f"[bold red]error:[/] {escape(scrub_urls(str(exc)))}", highlight=False,
                                  soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        state.err_console().print("interrupted")
        return 130
    except Exception as exc:
        if not _ledger_error(exc):
            raise
        return _report_ledger_error(exc)
    return 0


def _ledger_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the database's (a ledger missing a table, locked, damaged), of whichever driver."""
    import sqlite3

    kinds: list[type] = [sqlite3.Error]
    for module, name in (("sqlalchemy.exc", "SQLAlchemyError"), ("psycopg", "Error")):
        loaded = sys.modules.get(module)  # a driver never imported raised nothing
        if loaded is not None:
            kinds.append(getattr(loaded, name))
    return isinstance(exc, tuple(kinds))


def _report_ledger_error(exc: BaseException) -> int:
    """One line for a ledger the database refused (exit 1), the traceback only at -vv."""
    import logging

    from rich.markup import escape

    logging.getLogger("tuneops").debug("ledger error", exc_info=exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    state.err_console().print(f"[bold red]error:[/] the ledger's database said: {escape(first)}; the ledger may be "
                              "damaged or not a tuneops ledger: `tuneops db status` checks its schema, `tuneops audit "
                              "verify` its audit trail (-vv shows the traceback)", highlight=False, soft_wrap=True)
    return 1


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
