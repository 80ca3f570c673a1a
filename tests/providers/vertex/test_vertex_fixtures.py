"""Every Vertex fixture (and golden create body) has the shape google-genai's pydantic types accept.

The SDK's models forbid unknown fields and use the REST camelCase names as aliases, so a misspelt
or invented field in a fixture fails here instead of silently matching a wrong adapter.
"""

from __future__ import annotations

import json

import pytest
from fakevertex import FIXTURES

JOBS = ["tuning_job_running.json", "tuning_job_succeeded.json", "tuning_job_failed.json",
        "golden_create_sft.json", "golden_create_dpo.json"]
PAGES = ["tuning_jobs_page1.json", "tuning_jobs_page2.json"]


@pytest.mark.parametrize("name", JOBS)
def test_tuning_job_fixtures_are_valid_tuning_jobs(name: str) -> None:
    from google.genai import types

    types.TuningJob.model_validate(json.loads((FIXTURES / name).read_text()))


@pytest.mark.parametrize("name", PAGES)
def test_list_fixtures_are_valid_list_responses(name: str) -> None:
    from google.genai import types

    page = types.ListTuningJobsResponse.model_validate(json.loads((FIXTURES / name).read_text()))
    assert page.tuning_jobs


def test_generate_content_fixture_is_a_valid_response() -> None:
    from google.genai import types

    response = types.GenerateContentResponse.model_validate(
        json.loads((FIXTURES / "generate_content.json").read_text()))
    assert response.text == "billing"


def test_a_wrong_field_name_would_be_caught() -> None:
    from google.genai import types
    from pydantic import ValidationError

    job = json.loads((FIXTURES / "tuning_job_succeeded.json").read_text())
    job["tunedModel"]["endpointId"] = job["tunedModel"].pop("endpoint")
    with pytest.raises(ValidationError):
        types.TuningJob.model_validate(job)
