"""The Mistral fixtures follow mistralai 1.12.4's models (the last SDK line with fine-tuning jobs), and the
create body matches its golden file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tuneops.provider import CreateRequest, Hyperparameters, ProviderConfig, Upload
from tuneops.providers.mistral import MistralProvider

FIXTURES = Path(__file__).parent / "fixtures"
models = pytest.importorskip("mistralai.models", reason="mistralai==1.12.4 validates fixtures")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def known(model: Any) -> set[str]:
    return {f.alias or n for n, f in model.model_fields.items()} | set(model.model_fields)


def cases() -> list[tuple[str, str]]:
    return [("job.json", "CompletionJobOut"), ("job_detailed_success.json", "CompletionDetailedJobOut"),
            ("job_detailed_failed.json", "CompletionDetailedJobOut"), ("jobs_page.json", "JobsOut"),
            ("file.json", "UploadFileOut"), ("dry_run.json", "LegacyJobMetadataOut"),
            ("chat.json", "ChatCompletionResponse")]


@pytest.mark.parametrize("name,model", cases(), ids=[c[0] for c in cases()])
def test_fixture_validates_against_the_mistral_sdk(name: str, model: str) -> None:
    cls = getattr(models, model)
    data = load(name)
    cls.model_validate(data)
    assert not set(data) - known(cls), f"{name}: fields the SDK does not know"


def test_nested_events_and_checkpoints_use_known_fields() -> None:
    for name in ("job_detailed_success.json", "job_detailed_failed.json"):
        data = load(name)
        for ev in data["events"]:
            assert not set(ev) - known(models.EventOut)
        for cp in data["checkpoints"]:
            assert not set(cp) - known(models.CheckpointOut)
            assert not set(cp["metrics"]) - known(models.MetricOut)


def example_request() -> CreateRequest:
    """The example request every provider's golden body is built from."""
    return CreateRequest(
        job_name="support-triage", base_model="open-mistral-7b", method="sft",
        training=Upload("mistral", "1" * 64, "file-train-0001", 48213, "train.jsonl"),
        validation=Upload("mistral", "2" * 64, "file-valid-0002", 5120, "valid.jsonl"),
        hyperparameters=Hyperparameters(epochs=3, learning_rate=2e-5),
        idempotency_key="tuneops-run_01jqgolden0000000000", suffix="triage")


def example_body() -> dict[str, Any]:
    return MistralProvider(ProviderConfig(env={"MISTRAL_API_KEY": "k" * 12})).create_body(example_request())


def test_the_create_body_is_a_valid_job_request() -> None:
    body = example_body()
    models.JobIn.model_validate(body)
    assert not set(body) - known(models.JobIn)
    assert not set(body["hyperparameters"]) - known(models.CompletionTrainingParametersIn)


def test_create_body_matches_the_golden_file() -> None:
    assert example_body() == load("golden_create.json")
