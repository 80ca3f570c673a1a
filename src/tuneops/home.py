"""Where a project keeps tuneops's local files (no imports beyond the standard library: every command uses it).

A project is found the way git finds a repository: from the working directory upwards, the first folder
that holds ``.tuneops/`` or ``jobs/`` is its root, so ``tuneops runs list`` in ``jobs/data/`` reads the
same ledger as in the root. With no such folder, the working directory is the root.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_DIR = ".tuneops"
JOBS_DIR = "jobs"


def find_root(start: Path | None = None) -> Path | None:
    """The nearest folder from ``start`` (default: the working directory) upwards holding .tuneops/ or jobs/."""
    here = (start or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / HOME_DIR).is_dir() or (folder / JOBS_DIR).is_dir():
            return folder
    return None


def project_root() -> Path:
    """The project's root folder (see the module docstring); the working directory when none is found."""
    return find_root() or Path.cwd()


def home() -> Path:
    """The project's tuneops directory: ``$TUNEOPS_HOME``, else ``.tuneops`` in the project root."""
    env = os.environ.get("TUNEOPS_HOME")
    if env:
        return Path(env)
    root = find_root()
    return root / HOME_DIR if root is not None else Path(HOME_DIR)


def cache_dir() -> Path:
    """The local caches (snapshots, the scheduler's): ``$TUNEOPS_CACHE_DIR``, else ``cache/`` in ``home()``."""
    env = os.environ.get("TUNEOPS_CACHE_DIR")
    return Path(env) if env else home() / "cache"
