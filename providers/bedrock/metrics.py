"""Training and validation loss per step, from the metrics files a job writes to its S3 output.

AWS documents the layout (userguide/model-customization-analyze.html) as
``<output>/model-customization-job-<job id>/training_artifacts/step_wise_training_metrics.csv``
(step_number, epoch_number, training_loss, perplexity) and
``.../validation_artifacts/post_fine_tuning_validation/validation_metrics.csv`` (validation_loss in
place of training_loss). tuneops lists the job's folder and matches the file names wherever they
sit inside it, so a deeper or flatter layout still works; absent files mean no points yet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from tuneops.provider import MetricPoint
from tuneops.providers.bedrock.errors import call

TRAINING_FILE = "step_wise_training_metrics.csv"
VALIDATION_FILE = "validation_metrics.csv"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key prefix) of an ``s3://bucket/prefix`` URI."""
    rest = uri.removeprefix("s3://")
    bucket, _, prefix = rest.partition("/")
    return bucket, prefix


def job_folder(job: Mapping[str, Any]) -> tuple[str, str] | None:
    """(bucket, prefix) of the folder a job writes its artifacts to, from its output URI and ARN."""
    uri = (job.get("outputDataConfig") or {}).get("s3Uri")
    arn = job.get("jobArn")
    if not uri or not arn:
        return None
    bucket, prefix = split_s3_uri(uri)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    return bucket, f"{prefix}model-customization-job-{str(arn).rsplit('/', 1)[-1]}/"


def _float(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def parse(training_csv: str | None, validation_csv: str | None) -> list[MetricPoint]:
    """Merge the two CSV files into one point per step (validation loss joins on step_number)."""
    train: dict[int, float | None] = {}
    valid: dict[int, float | None] = {}
    for text, column, into in ((training_csv, "training_loss", train), (validation_csv, "validation_loss", valid)):
        for row in csv.DictReader(io.StringIO(text or "")):
            step = _float(row.get("step_number"))
            if step is not None:
                into[int(step)] = _float(row.get(column))
    return [MetricPoint(step, train_loss=train.get(step), valid_loss=valid.get(step))
            for step in sorted(set(train) | set(valid))]


def read(s3: Any, job: Mapping[str, Any], provider: str) -> list[MetricPoint]:
    """The job's per-step losses from S3; empty when the job has written no metrics files yet."""
    folder = job_folder(job)
    if folder is None:
        return []
    bucket, prefix = folder
    found: dict[str, str] = {}
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if token:
            kwargs["ContinuationToken"] = token
        page = call(provider, "metrics", lambda kw=kwargs: s3.list_objects_v2(**kw))
        for obj in page.get("Contents") or []:
            key = obj["Key"]
            for name in (TRAINING_FILE, VALIDATION_FILE):
                if key.endswith("/" + name) or key == name:
                    found.setdefault(name, key)
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated") or not token:
            break
    texts = {}
    for name, key in found.items():
        body = call(provider, "metrics", lambda k=key: s3.get_object(Bucket=bucket, Key=k))["Body"]
        texts[name] = body.read().decode("utf-8", "replace")
    return parse(texts.get(TRAINING_FILE), texts.get(VALIDATION_FILE))
