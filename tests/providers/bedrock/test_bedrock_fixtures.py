"""Every Bedrock fixture and golden create body has the shape botocore's service model accepts.

botocore validates request parameters and (through its Stubber) response shapes against the same
service model AWS publishes, so a misspelt or invented field fails here.
"""

from __future__ import annotations

import json

import pytest
from fakebedrock import FIXTURES


def _client(service: str):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")


@pytest.mark.parametrize("name", ["golden_create_nova.json", "golden_create_haiku.json"])
def test_golden_create_bodies_are_valid_requests(name: str) -> None:
    from botocore.validate import validate_parameters

    model = _client("bedrock").meta.service_model.operation_model("CreateModelCustomizationJob")
    validate_parameters(json.loads((FIXTURES / name).read_text()), model.input_shape)


@pytest.mark.parametrize(("service", "operation", "name"), [
    ("bedrock", "get_model_customization_job", "get_job_validating.json"),
    ("bedrock", "get_model_customization_job", "get_job_completed.json"),
    ("bedrock", "get_model_customization_job", "get_job_failed.json"),
    ("bedrock-runtime", "converse", "converse_response.json"),
])
def test_response_fixtures_are_valid_responses(service: str, operation: str, name: str) -> None:
    from botocore.stub import Stubber

    with Stubber(_client(service)) as stub:
        stub.add_response(operation, json.loads((FIXTURES / name).read_text()))  # raises on a wrong shape


def test_a_wrong_field_name_would_be_caught() -> None:
    from botocore.exceptions import ParamValidationError
    from botocore.stub import Stubber

    job = json.loads((FIXTURES / "get_job_completed.json").read_text())
    job["outputModelId"] = job.pop("outputModelArn")
    with Stubber(_client("bedrock")) as stub, pytest.raises(ParamValidationError):
        stub.add_response("get_model_customization_job", job)
