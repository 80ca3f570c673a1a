"""Fireworks job states mapped to RunStatus (the raw value is always kept beside it).

Source: fireworks-ai 1.2.28 ``fireworks/types/supervised_fine_tuning_job.py`` (``state``; the DPO
job type has the same list).
"""

from __future__ import annotations

from tuneops.provider import RunStatus

STATUS_TABLE: dict[str, RunStatus] = {
    "JOB_STATE_CREATING": RunStatus.PENDING,
    "JOB_STATE_VALIDATING": RunStatus.VALIDATING,
    "JOB_STATE_CREATING_INPUT_DATASET": RunStatus.VALIDATING,
    "JOB_STATE_PENDING": RunStatus.QUEUED,
    "JOB_STATE_RE_QUEUEING": RunStatus.QUEUED,
    # IDLE is undocumented; a job that exists and is not working is closest to waiting for capacity.
    "JOB_STATE_IDLE": RunStatus.QUEUED,
    "JOB_STATE_RUNNING": RunStatus.RUNNING,
    "JOB_STATE_WRITING_RESULTS": RunStatus.RUNNING,
    # "typically due to account suspension or manual intervention"; the resume call continues it.
    "JOB_STATE_PAUSED": RunStatus.PAUSED,
    "JOB_STATE_CANCELLING": RunStatus.CANCELLING,
    "JOB_STATE_CANCELLED": RunStatus.CANCELLED,
    "JOB_STATE_COMPLETED": RunStatus.SUCCEEDED,
    "JOB_STATE_EARLY_STOPPED": RunStatus.SUCCEEDED,  # training stopped early on purpose; a model exists
    "JOB_STATE_FAILED": RunStatus.FAILED,
    "JOB_STATE_EXPIRED": RunStatus.FAILED,
    # Being deleted or unspecified: keep polling and show the raw value.
    "JOB_STATE_UNSPECIFIED": RunStatus.UNKNOWN,
    "JOB_STATE_DELETING": RunStatus.UNKNOWN,
    "JOB_STATE_DELETING_CLEANING_UP": RunStatus.UNKNOWN,
}

# Dataset states (``state`` on a dataset object).
DATASET_READY = "READY"
