"""Azure fixtures: data-plane objects validate against the openai SDK's types (Azure's v1 API is
OpenAI-shaped), and ARM deployment answers use only the keys the official azure-mgmt-cognitiveservices
models declare."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from fakeopenai import load, unexpected_fields
from openai.types import FileObject, Model
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent, job_create_params
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

FIXTURES = Path(__file__).with_name("fixtures")

TYPES: dict[str, tuple[type, bool]] = {
    "file.json": (FileObject, False),
    "job_queued.json": (FineTuningJob, False),
    "job_succeeded.json": (FineTuningJob, False),
    "job_failed.json": (FineTuningJob, False),
    "events_page.json": (FineTuningJobEvent, True),
    "checkpoints_page.json": (FineTuningJobCheckpoint, True),
    "models_page.json": (Model, True),
    "chat_completion.json": (ChatCompletion, False),
}
# Fields Azure adds to OpenAI's job object (Foundry API reference); everything else must be OpenAI's.
AZURE_EXTRAS = {"user_provided_suffix"}

# Keys of the ARM models in azure-mgmt-cognitiveservices 14.1.0 (models/_models_py3.py _attribute_map).
ARM_DEPLOYMENT = {"id", "name", "type", "systemData", "sku", "etag", "tags", "properties"}
ARM_PROPERTIES = {"provisioningState", "model", "scaleSettings", "capabilities", "raiPolicyName",
                  "callRateLimit", "rateLimits", "versionUpgradeOption", "dynamicThrottlingEnabled",
                  "currentCapacity", "capacitySettings", "parentDeploymentName", "spilloverDeploymentName"}
ARM_MODEL = {"publisher", "format", "name", "version", "source", "sourceAccount", "callRateLimit"}
ARM_SKU = {"name", "tier", "size", "family", "capacity"}
# Model object of the dated data-plane API (REST reference "Models - List", api-version 2024-10-21).
DATED_MODEL = {"status", "capabilities", "lifecycle_status", "deprecation", "id", "created_at", "object",
               "model", "fine_tune"}
ARM_PROVISIONING_STATES = {"Accepted", "Creating", "Deleting", "Moving", "Failed", "Succeeded", "Disabled",
                           "Canceled"}


def _objects() -> list[tuple[str, type, dict]]:
    out = []
    for name, (model, is_page) in TYPES.items():
        data = load(name, FIXTURES)
        items = data["data"] if is_page else [data]
        out += [(f"{name}[{i}]" if is_page else name, model, item) for i, item in enumerate(items)]
    return out


@pytest.mark.parametrize("name, model, data", _objects(), ids=lambda v: v if isinstance(v, str) else "")
def test_each_data_plane_fixture_validates_against_the_sdk_type(name: str, model: type, data: dict) -> None:
    model.model_validate(data)  # type: ignore[attr-defined]
    assert set(unexpected_fields(model, data)) <= AZURE_EXTRAS, name


@pytest.mark.parametrize("name", ["deployment_creating.json", "deployment_succeeded.json"])
def test_arm_deployment_fixtures_use_the_management_sdks_keys(name: str) -> None:
    dep = load(name, FIXTURES)
    assert set(dep) <= ARM_DEPLOYMENT
    assert set(dep["properties"]) <= ARM_PROPERTIES
    assert set(dep["properties"]["model"]) <= ARM_MODEL and set(dep["sku"]) <= ARM_SKU
    assert dep["properties"]["provisioningState"] in ARM_PROVISIONING_STATES


def test_the_dated_models_list_fixture_uses_the_documented_keys() -> None:
    for model in load("models_page_dated.json", FIXTURES)["data"]:
        assert set(model) <= DATED_MODEL and set(model["deprecation"]) <= {"fine_tune", "inference"}


def test_every_fixture_is_checked() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        body = json.loads(path.read_text())
        if path.name in TYPES or path.name.startswith(("deployment_", "golden_", "models_page_dated")):
            continue
        assert path.name.startswith(("error_", "arm_error_")), f"{path.name}: add it to a fixture table"
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), path.name


def test_the_golden_create_body_uses_only_create_parameters() -> None:
    golden = load("golden_create.json", FIXTURES)
    assert set(golden) <= set(typing.get_type_hints(job_create_params.JobCreateParams))
