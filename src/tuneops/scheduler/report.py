"""What one scheduler pass did: the tick report, and the health line printed per tick."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class TickReport:
    """What one pass did, for the health line, `tick --json` and tests."""

    at: datetime
    jobs: int = 0
    scheduled: int = 0
    fired: list[dict[str, Any]] = field(default_factory=list)
    held: dict[str, int] = field(default_factory=dict)  # firing triggers held back, by gate
    skipped: int = 0
    quiet: int = 0  # of the skipped: remembered decisions that still held (nothing they depend on changed)
    recorded: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)
    settled: list[dict[str, Any]] = field(default_factory=list)
    reaped: list[str] = field(default_factory=list)  # fires taken over from a process that died
    rescored: list[str] = field(default_factory=list)
    synced: int = 0
    deployments: list[dict[str, Any]] = field(default_factory=list)  # advanced or undeployed this pass
    in_flight: int = 0
    errors: list[str] = field(default_factory=list)
    light: bool = False  # the whole pass ran without the ORM (see ``light``)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dict(self.__dict__)


def health_line(n: int, r: TickReport) -> str:
    """One line per tick: what it saw and did, and how long it took."""
    held = ", ".join(f"{k} {v}" for k, v in sorted(r.held.items())) or "none"
    return (f"{r.at:%Y-%m-%d %H:%M:%S} tick {n}: {r.jobs} job spec(s), {r.scheduled} with a policy; fired "
            f"{len(r.fired)}, held back {held}, skipped {r.skipped} ({r.quiet} quiet), settled {len(r.settled)}, "
            f"{r.in_flight} run(s) in flight, {len(r.errors)} error(s); {r.seconds:.2f}s")
