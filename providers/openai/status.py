"""OpenAI job statuses mapped to RunStatus (the raw value is always kept beside it)."""

from __future__ import annotations

from tuneops.provider import RunStatus

STATUS_TABLE: dict[str, RunStatus] = {
    "validating_files": RunStatus.VALIDATING,
    "queued": RunStatus.QUEUED,
    "running": RunStatus.RUNNING,
    # pausing/paused are not in the SDK's literal but are returned by the API's pause endpoint.
    "pausing": RunStatus.PAUSED,
    "paused": RunStatus.PAUSED,
    "cancelling": RunStatus.CANCELLING,
    "succeeded": RunStatus.SUCCEEDED,
    "failed": RunStatus.FAILED,
    "cancelled": RunStatus.CANCELLED,
}
