"""Where the ledger is: the database URL from --db, TUNEOPS_DATABASE_URL or the project default.

Kept free of SQLAlchemy so commands that only read the ledger can find it without importing it.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_PATH = Path(".tuneops") / "tuneops.db"
ENV_URL = "TUNEOPS_DATABASE_URL"

# psycopg 3 is the supported driver; SQLAlchemy reads plain postgresql:// as a request for psycopg2.
_PG_SCHEMES = ("postgresql", "postgres")
PG_DRIVER = "postgresql+psycopg"


def resolve_url(db: str | None = None) -> str:
    """The database URL from --db (a path or URL), TUNEOPS_DATABASE_URL, or the project default."""
    value = db or os.environ.get(ENV_URL) or str(DEFAULT_PATH)
    if "://" in value:
        scheme, rest = value.split("://", 1)
        return f"{PG_DRIVER}://{rest}" if scheme.lower() in _PG_SCHEMES else value
    path = Path(value).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


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
