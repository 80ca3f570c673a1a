"""Where the ledger is: the database URL from --db, TUNEOPS_DATABASE_URL or the project default.

Kept free of SQLAlchemy so commands that only read the ledger can find it without importing it.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PATH = Path(".tuneops") / "tuneops.db"  # in the project root (see tuneops.home)
ENV_URL = "TUNEOPS_DATABASE_URL"

# psycopg 3 is the supported driver; SQLAlchemy reads plain postgresql:// as a request for psycopg2.
_PG_SCHEMES = ("postgresql", "postgres")
PG_DRIVER = "postgresql+psycopg"


def default_path() -> Path:
    """The project's ledger file: ``.tuneops/tuneops.db`` in the project root found from the working directory."""
    from tuneops.home import find_root

    root = find_root()
    return root / DEFAULT_PATH if root is not None else DEFAULT_PATH


def resolve_url(db: str | None = None, *, create: bool = True) -> str:
    """The database URL from --db (a path or URL), TUNEOPS_DATABASE_URL, or the project default.

    ``create`` makes a SQLite file's folder; read-only commands pass False and create nothing.
    """
    value = db or os.environ.get(ENV_URL) or str(default_path())
    if "://" in value:
        scheme, rest = value.split("://", 1)
        return f"{PG_DRIVER}://{rest}" if scheme.lower() in _PG_SCHEMES else value
    path = Path(value).expanduser()
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def refuse_folder(url: str) -> None:
    """A SQLite ledger path naming a folder is a slip in --db (exit 2), not a database to connect to."""
    path = sqlite_path(url)
    if path is not None and Path(path).is_dir():
        from tuneops.errors import TuneopsError

        raise TuneopsError(f"the ledger path {path} is a folder; pass a file in it (--db {Path(path) / 'tuneops.db'}) "
                           "or a database URL")


def require_ledger(url: str) -> None:
    """Raise LedgerNotFound when ``url`` names a SQLite file that does not exist (a read-only command's check)."""
    refuse_folder(url)
    path = sqlite_path(url)
    if path is not None and not Path(path).is_file():
        from tuneops.errors import LedgerNotFound

        raise LedgerNotFound(path)


def sqlite_path(url: str) -> str | None:
    """The file of a ``sqlite:///PATH`` URL (None for other databases and in-memory ones)."""
    if not url.startswith("sqlite:///"):
        return None
    path = url[len("sqlite:///"):]
    return path if path and path != ":memory:" and not path.startswith("file:") else None


def libpq_url(url: str) -> str | None:
    """A PostgreSQL URL as libpq (psycopg.connect) takes it, without SQLAlchemy's driver suffix."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+", 1)[0].lower() not in _PG_SCHEMES:
        return None
    return f"postgresql://{rest}"
