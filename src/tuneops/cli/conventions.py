"""What every command shares: --version, -v/-q logging to stderr, --format, and global options anywhere.

``tuneops runs list --db x.db -v`` means what ``tuneops --db x.db -v runs list`` means: a global option
after the command is moved in front of it, unless that command defines an option of the same name
(``audit export --format csv`` keeps its own ``--format``). ``--format json`` on a command with ``--json``
is that ``--json``.
"""

from __future__ import annotations

import logging
from typing import Any

import typer

from tuneops.cli import state

ROOT_VALUED = ("--db", "--format")
ROOT_FLAGS = ("-v", "-vv", "-vvv", "--verbose", "-q", "--quiet")
FORMATS = ("table", "plain", "json")

_handler: logging.Handler | None = None


def print_version(value: bool) -> None:
    """The --version callback."""
    if value:
        from tuneops import __version__

        typer.echo(f"tuneops {__version__}")
        raise typer.Exit()


class _ScrubUrls(logging.Filter):
    """Strip ``user:password@`` from every URL a log line carries (httpx logs whole request URLs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from tuneops.netsafe import scrub_urls

        message = record.getMessage()
        clean = scrub_urls(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is now (a test's capture, a redirected stream), not what it was."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        import sys

        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(*, verbose: int = 0, quiet: bool = False, fmt: str | None = None) -> None:
    """Apply the root options: the listing format, and how much is logged to stderr."""
    global _handler
    if fmt is not None and fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="'--format'")
    state.FORMAT = fmt
    state.QUIET = quiet
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO)[min(verbose, 1)] if verbose < 2 \
        else logging.DEBUG
    if _handler is None:
        _handler = _Stderr()  # stdout stays for results and --json
        _handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        _handler.addFilter(_ScrubUrls())
        logging.getLogger("tuneops").addHandler(_handler)
        logging.getLogger("httpx").addHandler(_handler)
    _handler.setLevel(level)
    logging.getLogger("tuneops").setLevel(level)
    # Request lines from the HTTP client only at -vv: at -v they drown the tool's own lines.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


def log_at_least(level: int) -> None:
    """Log at ``level`` or more detail to stderr (a server's log lines are its output), with timestamps."""
    if _handler is None:
        configure(quiet=state.QUIET, fmt=state.FORMAT)
    assert _handler is not None
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if _handler.level > level:
        _handler.setLevel(level)
        logging.getLogger("tuneops").setLevel(level)


def output_file(path: Any, option: str, example: str) -> Any:
    """``path`` for an option that writes one file; a folder, or a path under a file, is exit 2 (nothing written)."""
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder; name the file to write, e.g. {path / example}",
                                 param_hint=f"'{option}'")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise typer.BadParameter(f"{path}: {blocking} is a file, not a folder; name a file in a folder you can write "
                                 "to", param_hint=f"'{option}'")
    return path


class _Finite:
    """A float parameter type that refuses nan and inf: no interval, rate, scale or timeout means them."""

    def __init__(self, inner: Any):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __call__(self, value: Any, param: Any = None, ctx: Any = None) -> Any:
        return None if value is None else self.convert(value, param, ctx)

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        import math

        number = self._inner.convert(value, param, ctx)
        if isinstance(number, float) and not math.isfinite(number):
            self._inner.fail(f"{value!r} is not a finite number", param, ctx)
        return number


def _conform(command: Any) -> None:
    """Usage lines name required arguments ``SPEC`` (typer 0.28 writes ``{spec}``); floats must be finite."""
    for param in command.params:
        if getattr(param, "param_type_name", "") == "argument" and param.metavar is None:
            name = (param.name or "").upper()
            shown = name if param.required else f"[{name}]"
            param.make_metavar = lambda ctx=None, *, usage=False, shown=shown, name=name: shown if usage else name
        if getattr(param.type, "name", "") in ("float", "float range"):
            param.type = _Finite(param.type)
    for sub in getattr(command, "commands", {}).values():
        _conform(sub)


def _root_option(arg: str) -> int:
    """How many words a global option starting at ``arg`` takes (0: it is none)."""
    if arg in ROOT_VALUED:
        return 2
    return 1 if arg.startswith(tuple(f"{o}=" for o in ROOT_VALUED)) or arg in ROOT_FLAGS else 0


def _misspelt_root(name: str, own: dict[str, bool]) -> bool:
    """Whether an option the command does not know is closest to a global one (``--formt``, ``--dbb``)."""
    if not name.startswith("--") or name in own:
        return False
    import difflib

    roots = [o for o in (*ROOT_VALUED, *ROOT_FLAGS) if o.startswith("--")]
    best = difflib.get_close_matches(name, [*own, *roots], n=1, cutoff=0.7)
    return bool(best) and best[0] in roots and best[0] not in own


def hoist(root: Any, argv: list[str]) -> list[str]:
    """``argv`` with global options after the command moved before it (see the module docstring).

    Also between a group and its command (``runs --db x.db list``). A global option missing its value
    is left alone at the front, so click says "Option '--db' requires an argument" instead of taking the
    command's name for the value.
    """
    i, command, head, moved = 0, root, [], []
    while i < len(argv):
        arg = argv[i]
        step = _root_option(arg)
        if step:
            if i + step > len(argv):
                return [arg]
            (head if command is root else moved).extend(argv[i:i + step])
            i += step
        elif arg.startswith("-") or not hasattr(command, "commands") or arg not in command.commands:
            break
        else:
            command = command.commands[arg]
            head.append(arg)
            i += 1
            if not hasattr(command, "commands"):
                break
    own: dict[str, bool] = {}  # the command's own options -> whether they take a value
    for p in command.params:
        for opt in (*p.opts, *getattr(p, "secondary_opts", ())):
            own[opt] = getattr(p, "param_type_name", "") == "option" and not p.is_flag and not p.count
    kept: list[str] = []
    tail = argv[i:]
    j = 0
    while j < len(tail):
        arg = tail[j]
        name = arg.split("=", 1)[0]
        if arg == "--":
            kept += tail[j:]
            break
        if name in own:
            step = 2 if own[name] and "=" not in arg else 1
            kept += tail[j:j + step]
        elif _root_option(arg):
            step = _root_option(arg)
            if j + step > len(tail):
                return [arg]
            moved += tail[j:j + step]
        elif _misspelt_root(name, own):
            return [name]  # click answers at the root: "No such option: --formt (Possible options: --format)"
        else:
            step = 1
            kept.append(arg)
        j += step
    args = [*moved, *head, *kept] if moved else list(argv)
    return _json_format(args, own)


def _json_format(args: list[str], own: dict[str, bool]) -> list[str]:
    """``--format json`` (before the command) on a command that has ``--json``: that flag."""
    if "--json" not in own:
        return args
    k = 0
    while k < len(args):  # only the root options, in front of the command
        arg = args[k]
        if arg == "--format=json" or (arg == "--format" and args[k + 1:k + 2] == ["json"]):
            return [*args[:k], *args[k + (1 if "=" in arg else 2):], "--json"]
        if arg in ROOT_VALUED:
            k += 2
        elif arg.startswith(tuple(f"{o}=" for o in ROOT_VALUED)) or arg in ROOT_FLAGS:
            k += 1
        else:
            break
    return args


def run(app: typer.Typer, argv: list[str]) -> None:
    """Build the click command, apply the conventions, run it (click ends every run with SystemExit)."""
    import typer.main

    command = typer.main.get_command(app)
    _conform(command)
    command.main(args=hoist(command, argv), prog_name="tuneops", standalone_mode=True)
