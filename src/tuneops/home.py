"""Where a project keeps tuneops's local files (no imports beyond the standard library: every command uses it)."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """The project's tuneops directory: ``$TUNEOPS_HOME``, else ``.tuneops``."""
    return Path(os.environ.get("TUNEOPS_HOME", ".tuneops"))


def cache_dir() -> Path:
    """The local caches (snapshots, the scheduler's): ``$TUNEOPS_CACHE_DIR``, else ``cache/`` in ``home()``."""
    env = os.environ.get("TUNEOPS_CACHE_DIR")
    return Path(env) if env else home() / "cache"
