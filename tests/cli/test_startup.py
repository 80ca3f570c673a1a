"""The command line starts fast (no provider SDKs, tiktoken or database layer for `--help`) and answers
mistakes in how it is called with a usage message, not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def test_help_imports_no_sdk_tokenizer_or_database() -> None:
    code = ("import sys; from tuneops.cli import main; rc = main(['--help']); import json; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('openai','tiktoken','sqlalchemy','sqlmodel','alembic','boto3','google','httpx','uvicorn','starlette'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy = json.loads(out.stdout.strip().splitlines()[-1])
    assert heavy == [], f"`tuneops --help` imported {heavy}"
    assert "submit" in out.stdout and "quickstart" in out.stdout


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "tuneops", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "quickstart" in out.stdout


@pytest.mark.parametrize("argv", [["history", "--bogus"], ["history", "--limit", "many"], ["nosuchcmd"]],
                         ids=["unknown-option", "bad-value", "unknown-command"])
def test_a_usage_mistake_is_a_short_message_and_exit_2(argv: list[str]) -> None:
    done = subprocess.run([sys.executable, "-m", "tuneops", *argv], capture_output=True, text=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and "Usage: tuneops" in done.stderr


def test_each_command_is_found_in_the_modules_that_define_it() -> None:
    # A command loads only its own module; this map must name every command the modules register.
    import importlib

    import typer

    from tuneops.cli import COMMAND_MODULES, COMMANDS, modules_for

    found: set[str] = set()
    for name in COMMAND_MODULES:
        app = typer.Typer()
        importlib.import_module(f"tuneops.cli.{name}").register(app)
        for command in [c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]:
            assert name in COMMANDS[command], f"`tuneops {command}` is registered by tuneops.cli.{name}"
            found.add(command)
    assert set(COMMANDS) == found
    assert modules_for(["--db", "x.db", "history", "--json"]) == ("history",)
    assert modules_for(["--help"]) == modules_for([]) == modules_for(["histroy"]) == COMMAND_MODULES
