"""Bedrock responses -> tuneops records, and chat messages -> a Converse request (all pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from tuneops.errors import UnsupportedOperation
from tuneops.provider import Completion, ProviderJob, RunStatus
from tuneops.providers.bedrock.naming import key_from_token
from tuneops.providers.bedrock.status import raw_status, status_of

# Converse inferenceConfig fields evals may set, by the portable name.
_INFERENCE = {"max_tokens": "maxTokens", "temperature": "temperature", "top_p": "topP", "stop": "stopSequences"}


def jsonable(value: Any) -> Any:
    """A boto3 response as plain JSON (datetimes as ISO strings, response metadata dropped)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "read"):  # a streaming body never belongs in a record
        return None
    return value


def _utc(value: Any) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def job(data: Mapping[str, Any]) -> ProviderJob:
    """A GetModelCustomizationJob response (or a list summary) as a ProviderJob.

    The job's name is its id: Bedrock accepts the name wherever it takes the ARN, and the name is
    what tuneops derives from the run's key.
    """
    raw = jsonable(data)
    status_raw = raw_status(raw)
    status = status_of(status_raw)
    metrics = raw.get("trainingMetrics") or {}
    return ProviderJob(
        provider_job_id=str(raw.get("jobName") or raw.get("jobArn", "")),
        status=status,
        raw_status=status_raw,
        model_id=(raw.get("outputModelArn") or raw.get("customModelArn"))
        if status is RunStatus.SUCCEEDED else None,
        idempotency_key=key_from_token(raw.get("clientRequestToken")),
        # Bedrock gives a failed job a message but no error code; a message on any other job is noise.
        error_message=raw.get("failureMessage") if status is RunStatus.FAILED else None,
        created_at=_utc(data.get("creationTime")),
        finished_at=_utc(data.get("endTime")) if status.terminal else None,
        raw={**raw, **({"finalTrainingLoss": metrics.get("trainingLoss")} if metrics else {})},
    )


def converse_request(model: str, messages: list[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """Converse arguments for a chat in OpenAI-style roles: system messages go to ``system``."""
    from tuneops.datasets.records import text_of

    system = []
    turns = []
    for m in messages:
        text = text_of(m.get("content")) or ""
        if m.get("role") in ("system", "developer"):
            system.append({"text": text})
        else:
            turns.append({"role": "assistant" if m.get("role") == "assistant" else "user",
                          "content": [{"text": text}]})
    unknown = sorted(set(params) - set(_INFERENCE))
    if unknown:
        raise UnsupportedOperation(f"bedrock inference (Converse) does not take {', '.join(unknown)}; "
                                   f"it takes {', '.join(sorted(_INFERENCE))}")
    request: dict[str, Any] = {"modelId": model, "messages": turns}
    if system:
        request["system"] = system
    config = {_INFERENCE[k]: ([v] if k == "stop" and isinstance(v, str) else v)
              for k, v in params.items() if v is not None}
    if config:
        request["inferenceConfig"] = config
    return request


def completion(response: Mapping[str, Any]) -> Completion:
    """The text and billed tokens of a Converse response."""
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    text = "".join(block.get("text", "") for block in content if isinstance(block, Mapping))
    usage = response.get("usage") or {}
    return Completion(text, int(usage.get("inputTokens") or 0), int(usage.get("outputTokens") or 0))
