"""The Fireworks fixtures follow the official SDK's response types, and the create body matches its golden file."""

from __future__ import annotations

import json
import typing
from pathlib import Path
from typing import Any

import pytest

from tuneops.provider import CreateRequest, Hyperparameters, ProviderConfig, Upload
from tuneops.providers.fireworks import FireworksProvider

FIXTURES = Path(__file__).parent / "fixtures"
sdk = pytest.importorskip("fireworks", reason="the fireworks-ai SDK validates fixtures (pip install fireworks-ai)")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def unknown_keys(model: Any, data: dict[str, Any]) -> set[str]:
    """Top-level keys of ``data`` that ``model`` does not declare (by field name or alias)."""
    known = {f.alias or n for n, f in model.model_fields.items()} | set(model.model_fields)
    return set(data) - known


def cases() -> list[tuple[str, Any]]:
    from fireworks.types import (
        Dataset,
        DatasetGetUploadEndpointResponse,
        DatasetUploadResponse,
        Deployment,
        DpoJob,
        SupervisedFineTuningJob,
    )
    from fireworks.types.chat.completion_create_response import CompletionCreateResponse

    return [("sft_job.json", SupervisedFineTuningJob), ("sft_job_completed.json", SupervisedFineTuningJob),
            ("sft_job_failed.json", SupervisedFineTuningJob), ("dpo_job.json", DpoJob),
            ("dataset.json", Dataset), ("upload_endpoint.json", DatasetGetUploadEndpointResponse),
            ("dataset_upload.json", DatasetUploadResponse), ("deployment.json", Deployment),
            ("chat.json", CompletionCreateResponse)]


@pytest.mark.parametrize("name,model", cases(), ids=[c[0] for c in cases()])
def test_fixture_validates_against_the_fireworks_sdk(name: str, model: Any) -> None:
    data = load(name)
    model.model_validate(data)
    assert not unknown_keys(model, data), f"{name}: fields the SDK does not know"


def test_the_list_page_uses_the_sdk_page_keys() -> None:
    from fireworks.pagination import SyncCursorSupervisedFineTuningJobs

    page = load("sft_list.json")
    fields = SyncCursorSupervisedFineTuningJobs.model_fields
    assert {"supervisedFineTuningJobs", "nextPageToken"} <= {f.alias or n for n, f in fields.items()}
    assert set(page) - {"totalSize"} <= {f.alias or n for n, f in fields.items()}


def test_the_create_body_fields_are_sdk_create_params() -> None:
    """Every JSON key the adapter sends is a create parameter the SDK knows (by its wire alias)."""
    from fireworks.types import dpo_job_create_params, supervised_fine_tuning_job_create_params
    from fireworks.types.shared_params import training_config

    def aliases(td: Any) -> set[str]:
        out = set()
        for name, hint in typing.get_type_hints(td, include_extras=True).items():
            meta = getattr(hint, "__metadata__", ())
            out.add(next((m.alias for m in meta if getattr(m, "alias", None)), name))
        return out

    sft = example_body()["json"]
    assert set(sft) <= aliases(supervised_fine_tuning_job_create_params.SupervisedFineTuningJobCreateParams)
    dpo = example_body(method="dpo")["json"]
    assert set(dpo) <= aliases(dpo_job_create_params.DpoJobCreateParams)
    assert set(dpo["trainingConfig"]) <= aliases(training_config.TrainingConfig)


def example_request(**changes: Any) -> CreateRequest:
    """The example request every provider's golden body is built from."""
    base = dict(
        job_name="support-triage", base_model="accounts/fireworks/models/llama-v3p1-8b-instruct", method="sft",
        training=Upload("fireworks", "1" * 64, "accounts/acme/datasets/tuneops-train-0001", 48213, "train.jsonl"),
        validation=Upload("fireworks", "2" * 64, "accounts/acme/datasets/tuneops-valid-0002", 5120, "valid.jsonl"),
        hyperparameters=Hyperparameters(epochs=3, learning_rate=2e-5),
        idempotency_key="tuneops-run_01jqgolden0000000000", suffix="triage")
    if changes.get("method") == "dpo":
        base["validation"] = None
    return CreateRequest(**(base | changes))


def example_body(**changes: Any) -> dict[str, Any]:
    provider = FireworksProvider(ProviderConfig(env={"FIREWORKS_API_KEY": "k" * 12, "FIREWORKS_ACCOUNT_ID": "acme"}))
    return provider.create_body(example_request(**changes))


def test_create_body_matches_the_golden_file() -> None:
    assert example_body() == load("golden_create.json")
