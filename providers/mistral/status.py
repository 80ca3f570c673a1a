"""Mistral fine-tuning job statuses mapped to RunStatus (the raw value is always kept beside it).

Source: mistralai 1.12.4 ``mistralai/models/completiondetailedjobout.py`` (the last SDK line with
fine-tuning jobs before 2.6 dropped them); the same ten values are in Mistral's OpenAPI.
"""

from __future__ import annotations

from tuneops.provider import RunStatus

STATUS_TABLE: dict[str, RunStatus] = {
    "QUEUED": RunStatus.QUEUED,
    "VALIDATING": RunStatus.VALIDATING,
    # Created with auto_start=false and validated: waiting for POST /jobs/{id}/start.
    "VALIDATED": RunStatus.PENDING,
    "STARTED": RunStatus.RUNNING,
    "RUNNING": RunStatus.RUNNING,
    "CANCELLATION_REQUESTED": RunStatus.CANCELLING,
    "CANCELLED": RunStatus.CANCELLED,
    "FAILED_VALIDATION": RunStatus.FAILED,  # the data was rejected: a user error
    "FAILED": RunStatus.FAILED,
    "SUCCESS": RunStatus.SUCCEEDED,
}

AWAITING_START = "VALIDATED"
