"""Bedrock model-customization statuses mapped to RunStatus, as data.

A job's ``status`` stays ``InProgress`` from submission to the end of training; the sub-task
statuses in ``statusDetails`` (validation, data processing, training) say which phase it is in.
tuneops records ``"InProgress/<phase>"`` as the raw status while a phase is in progress and maps it
through PHASE_TABLE; every other status maps through STATUS_TABLE.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tuneops.provider import RunStatus, map_status

STATUS_TABLE: dict[str, RunStatus] = {
    "InProgress": RunStatus.RUNNING,
    "Completed": RunStatus.SUCCEEDED,
    "Failed": RunStatus.FAILED,
    "Stopping": RunStatus.CANCELLING,
    "Stopped": RunStatus.CANCELLED,
}

PHASE_TABLE: dict[str, RunStatus] = {
    "validation": RunStatus.VALIDATING,
    "dataProcessing": RunStatus.VALIDATING,
    "training": RunStatus.RUNNING,
}

# statusDetails members in the order a job goes through them, with the phase name tuneops records.
PHASES = (("validationDetails", "validation"), ("dataProcessingDetails", "dataProcessing"),
          ("trainingDetails", "training"))

# Every raw status tuneops can record, with its RunStatus (the contract tests walk this table).
ALL_RAW: dict[str, RunStatus] = {
    **STATUS_TABLE,
    **{f"InProgress/{phase}": status for phase, status in PHASE_TABLE.items()},
}


def raw_status(job: Mapping[str, Any]) -> str:
    """The status, refined by the sub-task currently in progress while the job is InProgress."""
    status = str(job.get("status") or "")
    if status != "InProgress":
        return status
    details = job.get("statusDetails") or {}
    for member, phase in PHASES:
        if (details.get(member) or {}).get("status") == "InProgress":
            return f"InProgress/{phase}"
    return status


def status_of(raw: str) -> RunStatus:
    """The RunStatus of a raw status built by ``raw_status``; unknown values map to UNKNOWN."""
    status, _, phase = raw.partition("/")
    if status == "InProgress" and phase:
        return PHASE_TABLE.get(phase, RunStatus.RUNNING)
    return map_status(STATUS_TABLE, raw)
