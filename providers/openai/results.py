"""Reading what OpenAI hands back besides jobs: result files (step metrics) and the model list."""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from tuneops.provider import MetricPoint


class ModelInfo(NamedTuple):
    """A model the account can use, and the date it stops serving when one is announced."""

    id: str
    shutdown_date: date | None


def _f(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def decode_result_file(content: bytes) -> str:
    """The CSV text of a result file; OpenAI has served these base64-encoded, so both are accepted."""
    text = content.decode("utf-8", "replace").strip()
    if text.startswith("step") or "," in text.split("\n", 1)[0]:
        return text
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return text


def parse_result_csv(text: str) -> list[MetricPoint]:
    """Per-step metrics from a result file (CSV with a header row), by step."""
    points = []
    for row in csv.DictReader(io.StringIO(text)):
        if not row.get("step"):
            continue
        points.append(MetricPoint(
            int(float(row["step"])), _f(row.get("train_loss")), _f(row.get("valid_loss")),
            _f(row.get("train_accuracy") or row.get("train_mean_token_accuracy")),
            # Azure's result file names the column validation_mean_token_accuracy.
            _f(row.get("valid_mean_token_accuracy") or row.get("validation_mean_token_accuracy")
               or row.get("valid_accuracy"))))
    return sorted(points, key=lambda p: p.step)


def metrics_from_events(events: Iterable[Mapping[str, Any]]) -> list[MetricPoint]:
    """Per-step metrics from ``metrics`` events' data (while a job runs there is no result file yet)."""
    points = {}
    for d in events:
        if d and "step" in d:
            step = int(float(d["step"]))
            points[step] = MetricPoint(step, _f(d.get("train_loss")), _f(d.get("valid_loss")),
                                       _f(d.get("train_mean_token_accuracy")),
                                       _f(d.get("valid_mean_token_accuracy")))
    return [points[s] for s in sorted(points)]


def shutdown_date(value: Any) -> date | None:
    """A model's ``shutdown_date`` as a date: the API documents a string; unix seconds are accepted too."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(float(value), UTC).date()
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC).date()
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def model_info(model: Any) -> ModelInfo:
    """A ModelInfo from a listed model: OpenAI's ``shutdown_date``, else Azure's ``deprecation.inference``
    (unix seconds, dated api-versions' Models - List)."""
    when = shutdown_date(getattr(model, "shutdown_date", None))
    deprecation = getattr(model, "deprecation", None)
    if when is None and isinstance(deprecation, Mapping):
        when = shutdown_date(deprecation.get("inference"))
    return ModelInfo(model.id, when)
