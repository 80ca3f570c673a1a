"""`tuneops schedule run`: tick every interval until SIGTERM or SIGINT, printing a health line per tick.

A signal lets the tick in progress finish the fire it is on, then the loop ends: leases it still
holds are released or simply expire, and whatever did not fire fires on another process's next tick
(fire keys are only taken by fires that happened). A tick that fails (the database is unreachable,
say) is reported on the health line and the next one tries again. ``once`` runs one tick and then
follows the fires it started or took over, and those waiting on runs, until they are settled, so a
single command goes from decision to promotion.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tuneops.scheduler.context import SchedulerContext
from tuneops.scheduler.policy import load_policies
from tuneops.scheduler.report import TickReport, health_line  # noqa: F401  (imported from here too)
from tuneops.scheduler.tick import settle, tick
from tuneops.store import queries
from tuneops.store.scheduler_tables import FIRE_ACTIVE_STATES, FireRow


def write_health(path: Path, n: int, r: TickReport) -> None:
    """The last tick's summary as JSON, replaced atomically (a liveness probe can check its mtime)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"tick": n, "at": r.at.isoformat() + "Z", "fired": len(r.fired),
                               "skipped": r.skipped, "errors": r.errors[:20], "in_flight": r.in_flight,
                               "seconds": round(r.seconds, 3)}))
    os.replace(tmp, path)


@dataclass
class SchedulerLoop:
    """Ticks until stopped; ``run`` returns the number of ticks made."""

    ctx: SchedulerContext
    interval: float = 60.0
    on_tick: Callable[[int, TickReport], Any] | None = None
    health_file: Path | None = None
    last: TickReport | None = None
    drain_errors: int = 0  # errors the drain after a --once tick added to ``last``

    def stop(self, *_: Any) -> None:
        """Ask the loop to end after the work in hand (signal handler)."""
        self.ctx.stopping.set()

    def run(self, *, once: bool = False, drain_timeout: float = 3600.0, poll: float = 5.0) -> int:
        """Tick until a signal (or once, then follow its fires to the end)."""
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self.stop)
        n = 0
        try:
            while not self.ctx.stopping.is_set():
                started = time.monotonic()
                n += 1
                try:
                    report = self.last = tick(self.ctx)
                except Exception as exc:
                    if once:
                        raise
                    report = self.last = TickReport(at=self.ctx.clock(), errors=[f"tick failed: {exc}"])
                if self.on_tick is not None:
                    self.on_tick(n, report)
                if self.health_file is not None:
                    write_health(self.health_file, n, report)
                if once:
                    before = len(report.errors)
                    self.drain(report, timeout=drain_timeout, poll=poll)
                    self.drain_errors = len(report.errors) - before
                    break
                self.ctx.stopping.wait(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return n

    def drain(self, report: TickReport, *, timeout: float, poll: float) -> TickReport:
        """Advance the runs of the fires this tick started or took over until those fires are settled."""
        with self.ctx.store.read() as s:
            # Its own fires, and every other one waiting on runs (nobody holds those between ticks).
            waiting = s.execute(select(FireRow.id).where(FireRow.state == "submitted")).scalars().all()  # type: ignore
        mine = {f["fire_id"] for f in report.fired} | set(report.reaped) | set(waiting)
        ctx = self.ctx
        policies = {p.name: p for p in load_policies(ctx.jobs_dir, ctx.cache, ctx.policy_memo)} if mine else {}
        deadline = time.monotonic() + timeout
        while mine and not self.ctx.stopping.is_set() and time.monotonic() < deadline:
            with self.ctx.store.read() as s:
                fires = s.execute(_select_fires(mine)).scalars().all()
            open_fires = [f for f in fires if f.state in FIRE_ACTIVE_STATES]
            if not open_fires:
                break
            for fire in open_fires:
                for run_id in json.loads(fire.run_ids):
                    run = self.ctx.orch.get(run_id)
                    if run.state not in queries.TERMINAL_STATES:
                        try:
                            self.ctx.orch.advance(run)
                        except Exception as exc:  # a poll that failed is tried again next round
                            report.errors.append(f"advancing {run_id} failed: {exc}")
            settle(self.ctx, report, policies)
            self.ctx.stopping.wait(poll)
        return report


def _select_fires(ids: set[str]) -> Any:
    return select(FireRow).where(FireRow.id.in_(sorted(ids)))  # type: ignore[attr-defined]
