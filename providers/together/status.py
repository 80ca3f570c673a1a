"""Together fine-tune job statuses mapped to RunStatus (the raw value is always kept beside it).

Source: together 3.1.1 ``together/lib/types/fine_tuning.py`` ``FinetuneJobStatus`` (the generated
response type omits ``user_error``; the hand-written enum and the terminal set include it).
"""

from __future__ import annotations

from tuneops.provider import RunStatus

STATUS_TABLE: dict[str, RunStatus] = {
    "pending": RunStatus.PENDING,
    "queued": RunStatus.QUEUED,
    "running": RunStatus.RUNNING,
    # Post-training packaging and weight upload: the job still works, no model yet.
    "compressing": RunStatus.RUNNING,
    "uploading": RunStatus.RUNNING,
    "cancel_requested": RunStatus.CANCELLING,
    "cancelled": RunStatus.CANCELLED,
    "error": RunStatus.FAILED,
    "user_error": RunStatus.FAILED,  # a problem with the data or settings; details in the events
    "completed": RunStatus.SUCCEEDED,
}

# Statuses whose failure was the user's (data, settings, billing), not the provider's.
USER_ERROR_STATUSES = frozenset({"user_error"})

# File validation (``processing_status`` on a file object): still working, or finished.
FILE_PROCESSING = frozenset({"PENDING", "QUEUED", "RUNNING"})
FILE_FAILED = frozenset({"FAILED", "INVALID_FORMAT"})

# Event types that carry the reason a job failed. The SDK's hand-written enum spells them in upper
# case (JOB_USER_ERROR), its generated type in lower case (job_error): compare case-insensitively.
ERROR_EVENT_TYPES = frozenset({"JOB_USER_ERROR", "JOB_ERROR", "BILLING_LIMIT"})
