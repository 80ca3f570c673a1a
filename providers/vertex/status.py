"""Vertex AI tuning-job states mapped to RunStatus, as data.

A TuningJob reports a coarse ``state`` (JobState) and, while it is not finished, a finer
``tuningJobState`` (waiting for quota, processing the dataset, tuning, ...). tuneops keeps both in
the raw status as ``"<state>/<tuningJobState>"`` and lets the finer phase refine the coarse state
only while the job is still pending, queued or running.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.provider import RunStatus, map_status

STATE_TABLE: dict[str, RunStatus] = {
    "JOB_STATE_UNSPECIFIED": RunStatus.UNKNOWN,
    "JOB_STATE_QUEUED": RunStatus.QUEUED,
    "JOB_STATE_PENDING": RunStatus.PENDING,
    "JOB_STATE_RUNNING": RunStatus.RUNNING,
    # UPDATING: the job is being modified (e.g. its model re-deployed); it is still alive.
    "JOB_STATE_UPDATING": RunStatus.RUNNING,
    "JOB_STATE_PAUSED": RunStatus.PAUSED,
    "JOB_STATE_CANCELLING": RunStatus.CANCELLING,
    "JOB_STATE_SUCCEEDED": RunStatus.SUCCEEDED,
    # A model exists, so the run succeeded; the adapter flags the partial outcome in error_code.
    "JOB_STATE_PARTIALLY_SUCCEEDED": RunStatus.SUCCEEDED,
    "JOB_STATE_FAILED": RunStatus.FAILED,
    # EXPIRED: the job timed out without a model; for a run that is a failure.
    "JOB_STATE_EXPIRED": RunStatus.FAILED,
    "JOB_STATE_CANCELLED": RunStatus.CANCELLED,
}

PHASE_TABLE: dict[str, RunStatus] = {
    "TUNING_JOB_STATE_WAITING_FOR_QUOTA": RunStatus.QUEUED,
    "TUNING_JOB_STATE_WAITING_FOR_CAPACITY": RunStatus.QUEUED,
    "TUNING_JOB_STATE_PROCESSING_DATASET": RunStatus.VALIDATING,
    "TUNING_JOB_STATE_TUNING": RunStatus.RUNNING,
    "TUNING_JOB_STATE_POST_PROCESSING": RunStatus.RUNNING,
}

# Only these coarse states are refined by the phase; a terminal state always wins.
REFINABLE = frozenset({RunStatus.PENDING, RunStatus.QUEUED, RunStatus.RUNNING})

PARTIAL = "JOB_STATE_PARTIALLY_SUCCEEDED"


def raw_status(job: Mapping[str, Any]) -> str:
    """The raw status tuneops records: the state, plus the finer phase while it refines it."""
    state = str(job.get("state") or "JOB_STATE_UNSPECIFIED")
    phase = job.get("tuningJobState")
    if phase and phase != "TUNING_JOB_STATE_UNSPECIFIED" and STATE_TABLE.get(state) in REFINABLE:
        return f"{state}/{phase}"
    return state


def status_of(raw: str) -> RunStatus:
    """The RunStatus of a raw status built by ``raw_status``; unknown values map to UNKNOWN."""
    state, _, phase = raw.partition("/")
    coarse = map_status(STATE_TABLE, state)
    if phase and coarse in REFINABLE and phase in PHASE_TABLE:
        return PHASE_TABLE[phase]
    return coarse
