"""Vertex JSON -> tuneops records: tuning jobs, checkpoints and generateContent answers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tuneops.provider import Checkpoint, Completion, ProviderJob, RunStatus
from tuneops.providers.vertex.labels import key_of
from tuneops.providers.vertex.status import PARTIAL, raw_status, status_of

_FRACTION = re.compile(r"\.(\d+)")

# google.rpc.Code numbers, as names: a job's ``error`` carries only the number.
RPC_CODES = {1: "CANCELLED", 2: "UNKNOWN", 3: "INVALID_ARGUMENT", 4: "DEADLINE_EXCEEDED", 5: "NOT_FOUND",
             6: "ALREADY_EXISTS", 7: "PERMISSION_DENIED", 8: "RESOURCE_EXHAUSTED", 9: "FAILED_PRECONDITION",
             10: "ABORTED", 11: "OUT_OF_RANGE", 12: "UNIMPLEMENTED", 13: "INTERNAL", 14: "UNAVAILABLE",
             15: "DATA_LOSS", 16: "UNAUTHENTICATED"}


def timestamp(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (Z or offset, up to 9 fractional digits) as naive UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6], value.replace("Z", "+00:00"), count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)  # int64 fields arrive as JSON strings
    except (TypeError, ValueError):
        return None


def _spec(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    for key in ("supervisedTuningSpec", "preferenceOptimizationSpec"):
        if isinstance(raw.get(key), Mapping):
            return raw[key]
    return {}


def trained_tokens(raw: Mapping[str, Any]) -> int | None:
    """Billable tokens of the dataset times the epochs, when Vertex has reported both."""
    stats = raw.get("tuningDataStats") or {}
    inner = stats.get("supervisedTuningDataStats") or stats.get("preferenceOptimizationDataStats") or {}
    per_epoch = _int(inner.get("totalBillableTokenCount"))
    epochs = _int((_spec(raw).get("hyperParameters") or {}).get("epochCount"))
    if per_epoch is None:
        return None
    # The dataset is read once per epoch; without an epoch count the per-epoch figure is all we know.
    return per_epoch * epochs if epochs else per_epoch


def job(raw: Mapping[str, Any]) -> ProviderJob:
    """A TuningJob as a ProviderJob; the model id is the tuned model's endpoint (what inference calls)."""
    status_raw = raw_status(raw)
    status = status_of(status_raw)
    tuned = raw.get("tunedModel") or {}
    err = raw.get("error") or {}
    number = _int(err.get("code"))
    code = err.get("status") or (RPC_CODES.get(number, str(number)) if number is not None else None)
    message = err.get("message")
    if raw.get("state") == PARTIAL:
        code = code or PARTIAL
        message = message or "the job partially succeeded; check the tuned model before relying on it"
    return ProviderJob(
        provider_job_id=str(raw.get("name", "")),
        status=status,
        raw_status=status_raw,
        model_id=tuned.get("endpoint") if status is RunStatus.SUCCEEDED else None,
        idempotency_key=key_of(raw.get("labels"), raw.get("description")),
        trained_tokens=trained_tokens(raw),
        error_code=code,
        error_message=message,
        created_at=timestamp(raw.get("createTime")),
        finished_at=timestamp(raw.get("endTime")),
        raw=dict(raw),
    )


def checkpoints(raw: Mapping[str, Any]) -> list[Checkpoint]:
    """The tuned model's checkpoints by step; each is served from its own endpoint when it has one."""
    tuned = raw.get("tunedModel") or {}
    out = []
    for cp in tuned.get("checkpoints") or []:
        step = _int(cp.get("step"))
        if step is None:
            continue
        model = cp.get("endpoint") or f"{tuned.get('model', '')}@checkpoint-{cp.get('checkpointId')}"
        out.append(Checkpoint(str(cp.get("checkpointId", step)), step, model,
                              {"epoch": _int(cp.get("epoch"))} if cp.get("epoch") is not None else {}))
    return sorted(out, key=lambda c: c.step)


def completion(raw: Mapping[str, Any]) -> Completion:
    """The first candidate's text and the billed token counts of a generateContent response."""
    candidates = raw.get("candidates") or []
    parts = ((candidates[0].get("content") or {}).get("parts") or []) if candidates else []
    text = "".join(p.get("text", "") for p in parts if isinstance(p, Mapping) and not p.get("thought"))
    usage = raw.get("usageMetadata") or {}
    return Completion(text, _int(usage.get("promptTokenCount")) or 0,
                      _int(usage.get("candidatesTokenCount")) or 0)
