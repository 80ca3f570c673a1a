"""The Together fixtures follow the official SDK's response types, and the create body matches its golden file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tuneops.provider import CreateRequest, Hyperparameters, ProviderConfig, Upload
from tuneops.providers.together import TogetherProvider

FIXTURES = Path(__file__).parent / "fixtures"
sdk = pytest.importorskip("together", reason="the together SDK validates fixtures (pip install together)")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def unknown_keys(model: Any, data: dict[str, Any]) -> set[str]:
    """Top-level keys of ``data`` that ``model`` does not declare (by field name or alias)."""
    known = {f.alias or n for n, f in model.model_fields.items()} | set(model.model_fields)
    return set(data) - known


def cases() -> list[tuple[str, Any]]:
    from together.lib.types.fine_tuning import FinetuneResponse as LibJob
    from together.types import FileResponse
    from together.types.chat.chat_completion import ChatCompletion
    from together.types.fine_tuning_estimate_price_response import AvailableEstimate, UnavailableEstimate
    from together.types.fine_tuning_list_checkpoints_response import FineTuningListCheckpointsResponse
    from together.types.fine_tuning_list_events_response import FineTuningListEventsResponse
    from together.types.fine_tuning_list_metrics_response import FineTuningListMetricsResponse
    from together.types.fine_tuning_list_response import Data as ListedJob
    from together.types.finetune_response import FinetuneResponse

    job = (ListedJob, FinetuneResponse)  # list items carry suffix; the job type carries the rest
    return [("job.json", job), ("job_completed.json", job),
            # user_error is only in the SDK's hand-written enum, not the generated literal.
            ("job_user_error.json", LibJob),
            ("file.json", FileResponse), ("file_invalid.json", FileResponse),
            ("events.json", FineTuningListEventsResponse), ("checkpoints.json", FineTuningListCheckpointsResponse),
            ("metrics.json", FineTuningListMetricsResponse), ("estimate.json", AvailableEstimate),
            ("estimate_unavailable.json", UnavailableEstimate), ("chat.json", ChatCompletion)]


@pytest.mark.parametrize("name,model", cases(), ids=[c[0] for c in cases()])
def test_fixture_validates_against_the_together_sdk(name: str, model: Any) -> None:
    data = load(name)
    models = model if isinstance(model, tuple) else (model,)
    models[0].model_validate(data)
    unknown = set.intersection(*(unknown_keys(m, data) for m in models))
    assert not unknown, f"{name}: fields the SDK does not know"


def test_event_items_use_known_fields() -> None:
    from together.types.finetune_event import FinetuneEvent

    for ev in load("events.json")["data"]:
        assert not unknown_keys(FinetuneEvent, ev)


def example_request() -> CreateRequest:
    """The example request every provider's golden body is built from."""
    return CreateRequest(
        job_name="support-triage", base_model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", method="sft",
        training=Upload("together", "1" * 64, "file-train-0001", 48213, "train.jsonl"),
        validation=Upload("together", "2" * 64, "file-valid-0002", 5120, "valid.jsonl"),
        hyperparameters=Hyperparameters(epochs=3, learning_rate=2e-5),
        idempotency_key="tuneops-run_01jqgolden0000000000", suffix="triage")


def test_create_body_matches_the_golden_file() -> None:
    with httpx.Client() as http:
        body = TogetherProvider(ProviderConfig(env={"TOGETHER_API_KEY": "k" * 12}, http_client=http)).create_body(
            example_request())
    assert body == load("golden_create.json")


# Dedicated endpoints (v1): together 3.x types only the v2 endpoint API, so these key sets come from the
# v1 API reference (docs.together.ai/reference/createendpoint, listendpoints; "v1 is still supported,
# deprecated by the end of 2026"): DedicatedEndpoint and ListEndpoint.
DEDICATED_ENDPOINT = {"object", "id", "name", "display_name", "model", "hardware", "type", "owner", "state",
                      "autoscaling", "created_at"}
LIST_ENDPOINT = {"object", "id", "name", "model", "type", "owner", "state", "created_at"}
ENDPOINT_STATES = {"PENDING", "STARTING", "STARTED", "STOPPING", "STOPPED", "ERROR"}


def test_endpoint_fixtures_use_the_documented_v1_keys_and_states() -> None:
    from tuneops.providers.together.serving import ENDPOINT_STATES as MAPPED

    endpoint = load("dedicated_endpoint.json")
    assert set(endpoint) == DEDICATED_ENDPOINT and set(endpoint["autoscaling"]) == {"min_replicas", "max_replicas"}
    assert endpoint["state"] in ENDPOINT_STATES and endpoint["type"] == "dedicated"
    listed = load("endpoints_list.json")
    assert listed["object"] == "list" and all(set(e) == LIST_ENDPOINT for e in listed["data"])
    assert set(MAPPED) == ENDPOINT_STATES  # every documented state maps
