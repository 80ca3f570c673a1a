"""What a user of gh, llm or terraform expects: --version, -v/-q, global options anywhere, listings that
read well when piped, --format, and messages that keep their [brackets]."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tuneops.cli import main


def _tuneops(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tuneops", *argv], capture_output=True, text=True, cwd=cwd)


def test_version_is_one_line_and_exit_0() -> None:
    from tuneops import __version__

    done = _tuneops("--version")
    assert done.returncode == 0 and done.stdout == f"tuneops {__version__}\n"


def test_shell_completion_is_offered() -> None:
    done = _tuneops("--help")
    assert "--install-completion" in done.stdout and "--show-completion" in done.stdout


@pytest.fixture
def ledger(project: Path, sandbox_env: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A ledger (not the default one) with one finished run."""
    db = str(tmp_path / "elsewhere.db")
    assert main(["--db", db, "submit", str(project), "--watch", "--no-promote", "--json"]) == 0
    capsys.readouterr()
    return db


def test_global_options_work_after_the_command_too(ledger: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "list", "--json", "--db", ledger]) == 0
    after = json.loads(capsys.readouterr().out)
    assert main(["--db", ledger, "runs", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == after and len(after) == 1
    assert main(["history", f"--db={ledger}", "--limit", "1", "-q", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    # A command's own option of the same name stays its own: audit export --format csv.
    assert main(["audit", "export", "--format", "csv", "--db", ledger]) == 0
    assert capsys.readouterr().out.startswith("seq,at,actor,action")


def test_global_options_work_between_a_group_and_its_command(ledger: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--db", ledger, "list", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1
    assert main(["models", "-q", f"--db={ledger}", "list", "--format", "plain"]) == 0
    assert capsys.readouterr().out.startswith("MODEL ")


@pytest.mark.parametrize("argv", [["history", "--db"], ["runs", "list", "-v", "--db"], ["runs", "list", "--format"]])
def test_a_global_option_without_its_value_says_so(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    # It used to take the command's name for its value: "Missing command" or "No such command 'list'".
    assert main(argv) == 2
    assert f"Option '{argv[-1]}' requires an argument" in capsys.readouterr().err


def test_format_json_is_the_commands_json_and_plain_is_columns(ledger: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", ledger, "--format", "json", "runs", "list"]) == 0
    [run] = json.loads(capsys.readouterr().out)
    assert main(["--db", ledger, "models", "list", "--format", "plain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["MODEL", "JOB", "RUN"] and run["id"] in lines[1]
    assert main(["--db", ledger, "--format", "table", "runs", "list"]) == 0
    assert "━" in capsys.readouterr().out  # a rich table even though stdout is not a terminal
    assert main(["--format", "yaml", "runs", "list"]) == 2
    assert "'yaml' is not one of table, plain, json" in capsys.readouterr().err


def test_a_listing_piped_is_one_line_per_row_at_any_width(ledger: str, tmp_path: Path) -> None:
    # Not a terminal: no box drawing, no wrapping of ids or words ("provid/er"), one row per line.
    for argv in (["runs", "list"], ["providers", "list"], ["models", "list"], ["eval", "list"], ["history"]):
        done = subprocess.run([sys.executable, "-m", "tuneops", "--db", ledger, *argv], capture_output=True,
                              text=True, env={**__import__("os").environ, "COLUMNS": "60"})
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert not any(ch in done.stdout for ch in "│┃━"), argv
        if lines[0].startswith("no "):
            continue  # nothing of that kind yet, said in one line
        header = lines[0].split()
        assert header == [h for h in header if h.isupper() or not h.isalpha()], argv
    providers = _tuneops("providers", "list").stdout.splitlines()
    assert len(providers) <= 12 and providers[0].startswith("NAME")  # was ~200 lines tall


def test_providers_list_json_parses() -> None:
    done = _tuneops("providers", "list", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)}
    assert "sft" in rows["openai"]["capabilities"]["methods"]  # a frozenset, written as a list


def test_verbose_logs_go_to_stderr_and_quiet_silences_them(ledger: str, capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("tuneops.test")
    assert main(["--db", ledger, "-v", "runs", "list", "--json"]) == 0
    log.info("visible at -v: https://alice:pa55word@hooks.example/x")
    out, err = capsys.readouterr()
    json.loads(out)  # stdout stays clean for --json
    assert "visible at -v: https://hooks.example/x" in err and "pa55word" not in err
    assert main(["--db", ledger, "-q", "runs", "list", "--json"]) == 0
    log.warning("hidden at -q")
    assert "hidden" not in capsys.readouterr().err


def test_usage_names_arguments_and_help_keeps_bracketed_words() -> None:
    done = _tuneops("eval", "run", "--help")
    assert "Usage: tuneops eval run [OPTIONS] TARGET" in done.stdout
    assert "the spec's [eval] set" in " ".join(done.stdout.split())
    assert "Skip the spec's [promote] gate" in " ".join(_tuneops("models", "promote", "--help").stdout.split())


def test_user_text_with_markup_prints_as_written(project: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.store import open_store

    open_store().close()  # an empty ledger: the run is what is missing
    assert main(["runs", "show", "[bold]run_x[/bold]"]) == 2
    assert "no run with id '[bold]run_x[/bold]'" in capsys.readouterr().err
    assert main(["history", "--job", "[red]x[/]", "--format", "plain"]) == 0


def test_progress_shows_on_a_terminal_only_and_never_with_quiet(project: Path, sandbox_env: object,
                                                                 tmp_path: Path) -> None:
    import os

    env = {**os.environ, "TUNEOPS_SANDBOX_URL": sandbox_env.url}  # type: ignore[attr-defined]
    spinner = "support-triage: preflight and dataset snapshot"

    def submit(*extra: str, **more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "tuneops", "submit", str(project), *extra],
                              capture_output=True, text=True, env={**env, **more}, cwd=tmp_path)

    on_terminal = submit(FORCE_COLOR="1")  # rich takes this as a terminal
    assert on_terminal.returncode == 0 and spinner in on_terminal.stderr
    for done in (submit("-q", FORCE_COLOR="1"), submit()):
        assert done.returncode == 0 and spinner not in done.stderr and "\x1b[?25l" not in done.stderr


def test_bracketed_names_print_as_written_in_logs_and_lineage(project: Path, sandbox_env: object,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUNEOPS_ACTOR", "[bold]ana[/bold]@ci")
    assert main(["submit", str(project), "--watch", "--no-promote", "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)["id"]
    for argv in (["audit", "log", "--limit", "3"], ["lineage", run_id]):
        assert main(argv) == 0
        assert "[bold]ana[/bold]@ci" in capsys.readouterr().out, argv


def test_paths_a_user_names_print_as_written(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "[red]" would vanish as markup and "[/x]" (a closing tag nothing opened) ended in a traceback.
    assert main(["init", "[red]jobs"]) == 0
    assert "next: tuneops validate [red]jobs/support-triage.toml" in capsys.readouterr().out
    ledger = str(tmp_path / "ledger.db")
    assert main(["--db", ledger, "db", "upgrade"]) == 0
    export = tmp_path / "a[/x]" / "audit.jsonl"
    assert main(["--db", ledger, "audit", "export", "-o", str(export)]) == 0
    assert f"wrote 0 audit events to {export}" in capsys.readouterr().err
    report = tmp_path / "r[/b]"
    assert main(["--db", ledger, "report", "--html", str(report), "--jobs", "[red]jobs"]) == 0
    assert f"report written to {report / 'index.html'}" in capsys.readouterr().out


def test_quickstart_kept_in_a_bracketed_directory_says_where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import shlex

    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")  # quickstart sets it; undone after
    keep = tmp_path / "q[/x] y"
    assert main(["quickstart", "--keep", str(keep), "--no-eval", "--time-scale", "50"]) == 0
    out = capsys.readouterr().out
    assert f"example project written to {keep / 'jobs'}" in out
    assert f"project kept in {keep}; try: cd {shlex.quote(str(keep))} && tuneops runs list" in out
