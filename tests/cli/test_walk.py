"""Every command the app registers (found by walking it, so new commands are walked too) answers `--help`,
`--json` on a populated ledger, and malformed arguments (fuzzed) with output or a clear error: never a traceback."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuneops.cli import main


class StillRunning(BaseException):
    """The command accepted its arguments and is still serving or following: that is no crash."""


def _tree() -> Any:
    import typer.main

    from tuneops.cli import app, register

    register()
    return typer.main.get_command(app)


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if hasattr(command, "commands"):
        if path:
            yield path, command
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))
    else:
        yield path, command


COMMANDS = dict(_walk(_tree()))
LEAVES = sorted(path for path, c in COMMANDS.items() if not hasattr(c, "commands"))
WITH_JSON = [path for path in LEAVES if any("--json" in p.opts for p in COMMANDS[path].params)]


def _ids(path: tuple[str, ...]) -> str:
    return "-".join(path)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A project after a quickstart (one run, its model, two evals, a promotion), kept for the module."""
    root = tmp_path_factory.mktemp("walk")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("TUNEOPS_HOME", str(root / ".tuneops"))
        mp.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")  # quickstart sets it; undone after
        assert main(["quickstart", "--keep", str(root / "qs"), "--time-scale", "50"]) == 0
    db = str(root / "qs" / ".tuneops" / "tuneops.db")
    capsys = _Capture()
    run = capsys.json(["--db", db, "runs", "list", "--json"])[0]
    evals = [e["id"] for e in capsys.json(["--db", db, "eval", "list", "--json"])]
    yield {"db": db, "root": str(root / "qs"), "run": run["id"], "model": run["model_id"],
           "alias": "support-triage@production", "eval": evals[0], "eval2": evals[-1],
           "spec": str(root / "qs" / "jobs" / "support-triage.toml")}


class _Capture:
    """stdout of an in-process run, for a module-scoped fixture (capsys is per test)."""

    def json(self, argv: list[str]) -> Any:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(argv) == 0
        return json.loads(buf.getvalue())


def _fill(param: Any, ledger: dict[str, str], tmp: Path) -> str:
    """A value from the populated ledger for a required argument, chosen by its name."""
    by_name = {"run_id": ledger["run"], "spec": ledger["spec"], "target": ledger["alias"], "alias": ledger["alias"],
               "model": ledger["model"], "eval_id": ledger["eval"], "a": ledger["eval"], "b": ledger["eval2"],
               "ref": ledger["alias"], "name": "sandbox", "directory": str(tmp / "init")}
    return by_name.get(param.name, "x")


def _argv(path: tuple[str, ...], ledger: dict[str, str], tmp: Path, *extra: str) -> list[str]:
    argv = ["--db", ledger["db"], *path]
    for p in COMMANDS[path].params:
        if p.required:
            if getattr(p, "param_type_name", "") == "option":
                argv += [p.opts[0], _fill(p, ledger, tmp)]
            else:
                argv.append(_fill(p, ledger, tmp))
    return [*argv, *extra]


@pytest.fixture
def deadline() -> Iterator[None]:
    """A command still running after a few seconds (a server, a watch) has accepted its arguments."""
    def stop(signum: int, frame: object) -> None:
        raise StillRunning

    previous = signal.signal(signal.SIGALRM, stop)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


def _run(argv: list[str], seconds: float = 4.0) -> int | None:
    """Exit code of one in-process invocation; None when it was still running at the deadline."""
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return main(argv)
    except BaseException as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, StillRunning):
            cause = cause.__context__  # an error while unwinding from the deadline is the deadline's
        if cause is None:
            raise
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def test_the_walk_finds_every_group_and_command() -> None:
    assert ("runs", "list") in LEAVES and ("providers", "list") in LEAVES and ("history",) in LEAVES
    assert len(LEAVES) >= 35 and len(WITH_JSON) >= 25


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=_ids)
def test_help(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Usage: tuneops " + " ".join(path) in " ".join(out.split())
    assert "{" not in out.split("\n")[0] or "Usage" not in out  # usage names arguments, not {spec}


@pytest.mark.parametrize("path", WITH_JSON, ids=_ids)
def test_json_on_a_populated_ledger_parses(path: tuple[str, ...], ledger: dict[str, str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, deadline: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")
    monkeypatch.chdir(ledger["root"])
    code = _run(_argv(path, ledger, tmp_path, "--json"))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code is None or code in (0, 1, 2, 3), captured.err
    if code == 0 or captured.out.strip():
        json.loads(captured.out)  # the whole of stdout is one JSON document, even for a failed check
    elif code is not None:
        assert captured.err.strip(), "a failure says why"


# A binary file and a directory, made in each test's own folder: never system paths (as root, a command
# told to write its output to /bin/ls or into / does exactly that).
NOT_TEXT, A_DIR = "not-text.bin", "adir"


def _odd_files(folder: Path) -> None:
    (folder / NOT_TEXT).write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)))
    (folder / A_DIR).mkdir(exist_ok=True)


# Values a hurried or hostile user passes: wrong types, out of range, odd text, markup, files that are
# not what they should be.
NASTY = st.sampled_from([
    "", "x", "-1", "0", "1.5", "nan", "inf", "-inf", "1e999", "99999999999", "99999999999d", "-5d",
    "{bad", "{}", "[]", '{"rate_429": 7}', "[bold]x[/]", "[eval]", "a b", NOT_TEXT, A_DIR,
    "..", "nope/none.toml", "0:abc", "1:" + "0" * 64, "run_", "ft:x:y", "job@", "@", "openai", "nosuch",
    "2026-13-45", "\u00e9\u4e2d", "--", "-", "x=1", "=", "http://user:pw@127.0.0.1:1/",
]) | st.text(max_size=12)


@st.composite
def _malformed(draw: st.DrawFn, path: tuple[str, ...]) -> list[str]:
    argv: list[str] = []
    params = [p for p in COMMANDS[path].params if p.name != "help"]
    for p in draw(st.lists(st.sampled_from(params), max_size=4, unique_by=lambda p: p.name)) if params else []:
        if getattr(p, "param_type_name", "") != "option":
            argv.append(draw(NASTY))
        elif getattr(p, "is_flag", False):
            argv.append(p.opts[0])
        else:
            argv += [draw(st.sampled_from(p.opts)), draw(NASTY)]
    argv += draw(st.lists(st.sampled_from(["--no-such-option", "extra", "--json", "-x"]), max_size=1))
    return [*path, *argv]


@pytest.mark.parametrize("path", LEAVES, ids=_ids)
def test_malformed_arguments_never_end_in_a_traceback(path: tuple[str, ...], ledger: dict[str, str],
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       deadline: None, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")
    db = tmp_path / "ledger.db"
    shutil.copy(ledger["db"], db)  # the fuzzer may change things: its own copy
    _odd_files(tmp_path)

    @settings(max_examples=12, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(argv=_malformed(path))
    def check(argv: list[str]) -> None:
        code = _run(["--db", str(db), *argv], seconds=3.0)
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err + captured.out
        assert code is None or code in (0, 1, 2, 3), (argv, code)

    check()


# Every option and argument of every command also gets each of these once (the fuzzer may miss one):
# a file that is no directory and no text, a negative number, not-a-number.
CLASSIC = (NOT_TEXT, "-1", "nan")


@pytest.mark.parametrize("path", LEAVES, ids=_ids)
def test_each_parameter_with_a_classic_bad_value(path: tuple[str, ...], ledger: dict[str, str], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch, deadline: None,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")
    db = tmp_path / "ledger.db"
    shutil.copy(ledger["db"], db)
    monkeypatch.chdir(tmp_path)
    _odd_files(tmp_path)
    params = [p for p in COMMANDS[path].params if p.name != "help" and not getattr(p, "is_flag", False)]
    for param in params:
        for value in CLASSIC:
            options: list[str] = []
            positional: list[str] = []
            for other in COMMANDS[path].params:  # in declared order; the other required ones from the ledger
                given = value if other is param else _fill(other, ledger, tmp_path) if other.required else None
                if given is None:
                    continue
                if getattr(other, "param_type_name", "") == "option":
                    options += [other.opts[0], given]
                else:
                    positional.append(given)
            argv = [*path, *options, *(["--"] if any(v.startswith("-") for v in positional) else []), *positional]
            code = _run(["--db", str(db), *argv], seconds=3.0)
            captured = capsys.readouterr()
            assert "Traceback" not in captured.err + captured.out, argv
            assert code is None or code in (0, 1, 2, 3), (argv, code, captured.err)


# Found by probing as a user would (issue 18): each was a traceback.
PROBES = [
    ["history", "--since", "99999999999d"], ["audit", "log", "--until", "99999999999w"],
    ["audit", "verify", "--anchor", "/bin/ls"], ["audit", "verify", "--anchor", "0:abc"],
    ["sandbox", "serve", "--faults", "{bad"], ["sandbox", "serve", "--faults", "[]"],
    ["sandbox", "serve", "--faults", '{"x": 1}'], ["sandbox", "serve", "--faults", '{"rate_429": 7}'],
    ["sandbox", "serve", "--port", "99999"], ["sandbox", "serve", "--time-scale", "-1"],
    ["sandbox", "serve", "--time-scale", "nan"], ["sandbox", "serve", "--host", "999.1.1.1"],
    ["webhooks", "serve", "--port", "0"], ["quickstart", "--time-scale", "-1"], ["runs", "list", "--limit", "-5"],
    ["runs", "watch", "x", "--interval", "-1"], ["history", "--since", "2026-13-45"],
]


@pytest.mark.parametrize("argv", PROBES, ids=lambda a: " ".join(a))
def test_each_probe_from_the_walk_is_a_clear_error_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str],
                                                               deadline: None) -> None:
    assert _run(argv, seconds=10.0) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ("error:" in err or "Error:" in err)


def test_a_port_in_use_is_a_clear_error_for_both_servers(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        for argv in (["sandbox", "serve", "--port", port], ["webhooks", "serve", "--port", port]):
            assert main(argv) == 2
            assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
