"""The HTML report (`tuneops report --html DIR`): one self-contained page of runs, spend against
budgets, eval scores with promotions and rollbacks, loss curves, the scheduler, the audit chain and ROI."""

from __future__ import annotations

from pathlib import Path

from tuneops.store import Store


def write_report(store: Store, directory: Path, *, jobs_dir: Path | None = None) -> Path:
    """Write ``index.html`` into ``directory`` (created if missing) and return its path."""
    from tuneops.dashboard.data import gather
    from tuneops.dashboard.page import render

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render(gather(store, jobs_dir=jobs_dir)), encoding="utf-8")
    tmp.replace(path)  # a reader (or --serve) never sees half a page
    return path
