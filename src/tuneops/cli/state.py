"""Shared CLI plumbing: the --db option's value, consoles, the store, and JSON output."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from tuneops.store import Store
    from tuneops.store.reader import Reader

DB: str | None = None
FORMAT: str | None = None  # --format: table, plain or json (None: by terminal)
HTTP_TIMEOUT: float | None = None  # --timeout of the command being run
QUIET = False  # -q: no progress or notes on stderr
# The stderr console while progress bars are drawn on it (cli.bars): what else is printed to stderr then
# goes through it, above the bars, instead of into them.
LIVE: Console | None = None


def console() -> Console:
    """The stdout console; piped or redirected, it never wraps a line (an id split at column 80 breaks grep)."""
    from rich.console import Console

    out = Console(highlight=False, emoji=False)  # model ids like ft:x:m:1 hold ":m:", an emoji code
    out.soft_wrap = not out.is_terminal
    return out


def err_console() -> Console:
    """The stderr console (errors, progress); like ``console``, it wraps no line when it is not a terminal.
    While progress bars are drawn it is theirs, so a message prints above them instead of into them."""
    if LIVE is not None:
        return LIVE
    from rich.console import Console

    err = Console(stderr=True, highlight=False, emoji=False)
    err.soft_wrap = not err.is_terminal
    return err


def store(*, read_only: bool = False) -> Store:
    """Open the ledger chosen by --db / TUNEOPS_DATABASE_URL (migrating it if needed).

    ``read_only``: for commands that only read; no ledger is an error (LedgerNotFound), never a new one.
    """
    from tuneops.store import open_store

    if read_only:
        from tuneops.store.urls import require_ledger, resolve_url

        require_ledger(resolve_url(DB, create=False))
    return open_store(DB)


def reader(*, create: bool = False) -> Reader:
    """A view of the same ledger that skips SQLAlchemy's start-up when the schema is current.

    Read-only unless ``create`` (the scheduler's light tick, which records decisions through it).
    """
    from tuneops.store.reader import open_reader

    return open_reader(DB, create=create)


def print_json(value: Any) -> None:
    """Write ``value`` as JSON to stdout (datetimes as ISO 8601)."""
    sys.stdout.write(json.dumps(value, indent=2, default=_default, sort_keys=False) + "\n")


def _default(value: Any) -> Any:
    from datetime import date, datetime
    from enum import Enum
    from pathlib import Path

    if isinstance(value, datetime):
        return value.isoformat() + ("Z" if value.tzinfo is None else "")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)  # --json never crashes on a type it has not met: its text is better than a traceback
