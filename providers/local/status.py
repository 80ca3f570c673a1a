"""The local provider's job statuses (written to ``status.json`` by tuneops and the training process)."""

from __future__ import annotations

from tuneops.provider import RunStatus

QUEUED, RUNNING, CANCELLING = "queued", "running", "cancelling"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"

STATUS_TABLE: dict[str, RunStatus] = {
    QUEUED: RunStatus.QUEUED,  # the job directory exists; the training process is starting or not yet started
    RUNNING: RunStatus.RUNNING,
    CANCELLING: RunStatus.CANCELLING,  # cancel asked; the process stops at its next step
    SUCCEEDED: RunStatus.SUCCEEDED,
    FAILED: RunStatus.FAILED,
    CANCELLED: RunStatus.CANCELLED,
}

# Statuses in which a training process should be alive: a dead one here has crashed.
LIVE = frozenset({QUEUED, RUNNING, CANCELLING})
FINAL = frozenset({SUCCEEDED, FAILED, CANCELLED})
