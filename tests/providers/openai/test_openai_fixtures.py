"""The OpenAI fixtures follow the SDK's own response types, so a wrong field name or value fails here
before a respx test can pass on a shape the real API never sends."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from fakeopenai import OPENAI_FIXTURES, load, unexpected_fields
from openai.types import FileObject, Model, Upload
from openai.types.chat import ChatCompletion
from openai.types.fine_tuning import FineTuningJob, FineTuningJobEvent, job_create_params
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint
from openai.types.uploads import UploadPart

# fixture -> (SDK type, whether the fixture is a list page whose items have that type)
TYPES: dict[str, tuple[type, bool]] = {
    "file.json": (FileObject, False),
    "upload_pending.json": (Upload, False),
    "upload_completed.json": (Upload, False),
    "upload_part.json": (UploadPart, False),
    "job_queued.json": (FineTuningJob, False),
    "job_succeeded.json": (FineTuningJob, False),
    "job_failed.json": (FineTuningJob, False),
    "job_dpo_wandb.json": (FineTuningJob, False),
    "events_page.json": (FineTuningJobEvent, True),
    "checkpoints_page.json": (FineTuningJobCheckpoint, True),
    "models_page.json": (Model, True),
    "chat_completion.json": (ChatCompletion, False),
}
ERROR_KEYS = {"message", "type", "param", "code"}
PAGE_KEYS = {"object", "data", "has_more", "first_id", "last_id"}


def typed_fixtures(directory: Path, types: dict[str, tuple[type, bool]]) -> list[tuple[str, type, dict]]:
    """(fixture name, SDK type, object) for every object in the typed fixtures of ``directory``."""
    out = []
    for name, (model, is_page) in types.items():
        data = load(name, directory)
        if is_page:
            assert set(data) <= PAGE_KEYS and data["data"], f"{name}: not a list page"
            out += [(f"{name}[{i}]", model, item) for i, item in enumerate(data["data"])]
        else:
            out.append((name, model, data))
    return out


def check_fixture_set(directory: Path, types: dict[str, tuple[type, bool]]) -> None:
    """Every JSON fixture in ``directory`` is typed, an error body, a golden body or an ARM answer."""
    for path in sorted(directory.glob("*.json")):
        if path.name in types or path.name.startswith(("golden_", "arm_", "deployment_")):
            continue
        assert path.name.startswith("error_"), f"{path.name}: add it to the fixture type table"
        body = json.loads(path.read_text())
        assert set(body) == {"error"} and set(body["error"]) == ERROR_KEYS, path.name


@pytest.mark.parametrize("name, model, data", typed_fixtures(OPENAI_FIXTURES, TYPES),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_each_fixture_validates_against_the_sdk_type(name: str, model: type, data: dict) -> None:
    model.model_validate(data)  # type: ignore[attr-defined]
    assert unexpected_fields(model, data) == [], f"{name} has fields the SDK does not know"


def test_every_fixture_is_checked() -> None:
    check_fixture_set(OPENAI_FIXTURES, TYPES)


def test_a_misspelled_field_is_caught_even_though_the_sdk_accepts_it() -> None:
    job = load("job_succeeded.json")
    job["fine_tuned_modle"] = job.pop("fine_tuned_model")
    job["method"]["supervised"]["hyperparameters"]["n_epoch"] = 3
    FineTuningJob.model_validate(job)  # extra keys pass the SDK's validation silently ...
    assert unexpected_fields(FineTuningJob, job) == [  # ... so the fixture check walks the fields
        "fine_tuned_modle", "method.supervised.hyperparameters.n_epoch"]


def test_a_wrong_value_is_caught() -> None:
    job = load("job_queued.json")
    job["status"] = "done"
    with pytest.raises(ValueError):
        FineTuningJob.model_validate(job)


def test_the_golden_create_body_uses_only_create_parameters() -> None:
    golden = load("golden_create.json")
    params = typing.get_type_hints(job_create_params.JobCreateParams)
    assert set(golden) <= set(params)
    method = typing.get_type_hints(job_create_params.Method)
    assert set(golden["method"]) <= set(method)
