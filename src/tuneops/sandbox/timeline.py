"""A sandbox job's progress as a pure function of the clock.

Nothing runs in the background: a job's status, step and events are computed from
the wall-clock time it was created, the time spent paused, and a speed factor
(``time_scale``: simulated seconds per wall-clock second). Tests that inject a fake
clock, or a large ``time_scale``, therefore get fast and exactly reproducible jobs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["Pause", "Phase", "Timeline", "run_seconds"]

# Simulated seconds per phase at time_scale 1.0. A job of a few hundred examples
# (about a hundred steps with the default batch size and epochs) finishes in 2-4 s.
VALIDATE_SECONDS = 0.4
QUEUE_SECONDS = 0.3
RUN_BASE_SECONDS = 1.0
STEP_SECONDS = 0.01
MAX_RUN_SECONDS = 300.0
# Steps take the first 90 % of the running phase; the rest is "building the model".
_STEPS_SHARE = 0.9


def run_seconds(total_steps: int) -> float:
    """Simulated length of the running phase for a job of ``total_steps`` steps."""
    return min(MAX_RUN_SECONDS, RUN_BASE_SECONDS + STEP_SECONDS * total_steps)


class Phase:
    """Status strings as OpenAI spells them."""

    VALIDATING = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class Pause:
    """One pause: wall-clock start and end, and the simulated progress at which it began."""

    start: float
    progress: float
    end: float | None = None


@dataclass
class Timeline:
    """Maps between wall-clock time and a job's simulated progress."""

    created: float
    time_scale: float
    total_steps: int  # 0 when the job fails validation and never trains
    fails_validation: bool = False
    pauses: list[Pause] = field(default_factory=list)
    cancelled: float | None = None

    @property
    def validated_at(self) -> float:
        """Progress at which file validation ends."""
        return VALIDATE_SECONDS

    @property
    def started_at(self) -> float:
        """Progress at which training starts."""
        return VALIDATE_SECONDS + QUEUE_SECONDS

    @property
    def finished_at(self) -> float:
        """Progress at which the job ends on its own (success, or failed validation)."""
        if self.fails_validation:
            return self.validated_at
        return self.started_at + run_seconds(self.total_steps)

    def step_at(self, step: int) -> float:
        """Progress at which ``step`` (1-based) completes."""
        return self.started_at + run_seconds(self.total_steps) * _STEPS_SHARE * step / self.total_steps

    def progress(self, now: float) -> float:
        """Simulated seconds of work done by wall-clock time ``now``."""
        t = now if self.cancelled is None else min(now, self.cancelled)
        paused = sum(min(p.end if p.end is not None else t, t) - p.start for p in self.pauses if p.start < t)
        return max(0.0, (t - self.created - paused) * self.time_scale)

    def wall_at(self, progress: float) -> float:
        """Wall-clock time at which ``progress`` is (or will be) reached; inf while paused before it."""
        wall = self.created + progress / self.time_scale
        for pause in self.pauses:
            if pause.progress < progress:
                if pause.end is None:
                    return math.inf
                wall += pause.end - pause.start
        return wall

    @property
    def is_paused(self) -> bool:
        """Whether the latest pause is still open."""
        return bool(self.pauses) and self.pauses[-1].end is None

    def status(self, now: float) -> str:
        """The job's status at wall-clock time ``now``."""
        if self.cancelled is not None:
            return Phase.CANCELLED
        p = self.progress(now)
        if p < self.validated_at:
            return Phase.VALIDATING
        if self.fails_validation:
            return Phase.FAILED
        if p < self.started_at:
            return Phase.QUEUED
        if p < self.finished_at:
            return Phase.PAUSED if self.is_paused else Phase.RUNNING
        return Phase.SUCCEEDED

    def steps_done(self, now: float) -> int:
        """How many steps have completed by ``now``."""
        if self.fails_validation or not self.total_steps:
            return 0
        p = self.progress(now)
        if p < self.started_at:
            return 0
        share = (p - self.started_at) / (run_seconds(self.total_steps) * _STEPS_SHARE)
        # Guard against float error right at a step boundary.
        done = min(self.total_steps, math.floor(share * self.total_steps + 1e-9))
        while done < self.total_steps and self.step_at(done + 1) <= p:
            done += 1
        while done > 0 and self.step_at(done) > p:
            done -= 1
        return done

    def pause(self, now: float) -> None:
        """Stop the clock for this job."""
        self.pauses.append(Pause(start=now, progress=self.progress(now)))

    def resume(self, now: float) -> None:
        """Start the clock again."""
        self.pauses[-1].end = now

    def cancel(self, now: float) -> None:
        """Freeze the job for good; a pause still open ends now."""
        if self.is_paused:
            self.pauses[-1].end = now
        self.cancelled = now
