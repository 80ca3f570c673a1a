"""Code the concurrency tests run in separate processes (``python workers.py <role> ...``).

Each worker opens the ledger (migrating it if it is new), says it is ready, waits for the go file so
all workers start together, then does its part.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def _barrier(ready: Path, go: Path) -> None:
    ready.touch()
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            raise SystemExit("no go signal within 60 s")
        time.sleep(0.002)


def append(url: str, name: str, count: int, ready: Path, go: Path) -> None:
    """Append ``count`` audit events, one transaction each, as a real writer would."""
    from tuneops import audit
    from tuneops.store import open_store

    store = open_store(url)
    _barrier(ready, go)
    for i in range(count):
        with store.write() as s:
            audit.append(s, "test.appended", "test", f"{name}-{i}", job_name=name, details={"note": name})


def migrate(url: str, ready: Path, go: Path) -> None:
    """Open a fresh ledger at the same moment as the other workers (the first open migrates)."""
    from tuneops import audit
    from tuneops.store import open_store

    _barrier(ready, go)
    store = open_store(url)
    with store.write() as s:
        audit.append(s, "test.opened", "test", ready.name)


if __name__ == "__main__":
    role, url, *rest = sys.argv[1:]
    if role == "append":
        append(url, rest[0], int(rest[1]), Path(rest[2]), Path(rest[3]))
    else:
        migrate(url, Path(rest[0]), Path(rest[1]))
