"""Serving a Bedrock custom model: on-demand where offered; hourly-billed Provisioned Throughput only
when asked for explicitly, with its hourly cost reported. moto has neither API, so botocore's Stubber
answers (and checks each request against the service model)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tuneops.errors import UnsupportedOperation
from tuneops.providers.bedrock import BedrockProvider, Deployment
from tuneops.providers.bedrock.serving import deployment_name

MODEL = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/c0ffee123456"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/k2x8vq1rz0ab"
PROVISIONED = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/p4s7t0u3v6w9"


def test_deploy_uses_on_demand_deployment_when_offered(bedrock: BedrockProvider) -> None:
    from botocore.stub import Stubber

    name = deployment_name(MODEL)
    with Stubber(bedrock.bedrock) as stub:
        stub.add_response("create_custom_model_deployment", {"customModelDeploymentArn": DEPLOYMENT},
                          {"modelDeploymentName": name, "modelArn": MODEL, "clientRequestToken": name})
        deployment = bedrock.deploy(MODEL)
    assert deployment == Deployment(DEPLOYMENT, "on_demand", 0, deployment.raw)
    assert "no hourly charge" in deployment.cost_note


def test_without_on_demand_it_refuses_and_names_the_hourly_alternative(
        make_bedrock: Callable[..., BedrockProvider]) -> None:
    from botocore.stub import Stubber

    for options, cost in (({}, "does not know"), ({"provisioned_hourly_usd": 21.18, "model_units": 2}, "$42.36")):
        provider = make_bedrock(**options)
        with Stubber(provider.bedrock) as stub:
            stub.add_client_error("create_custom_model_deployment", "ValidationException",
                                  "On-demand deployment is not supported for this model", 400)
            with pytest.raises(UnsupportedOperation, match="provisioned=True") as info:
                provider.deploy(MODEL)
            stub.assert_no_pending_responses()  # nothing was bought
        assert cost in str(info.value)


def test_provisioned_throughput_only_when_asked_and_reports_its_hourly_cost(
        make_bedrock: Callable[..., BedrockProvider]) -> None:
    from botocore.stub import Stubber

    provider = make_bedrock(provisioned_hourly_usd=21.18, model_units=1, commitment_duration="OneMonth")
    name = deployment_name(MODEL)
    with Stubber(provider.bedrock) as stub:
        stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PROVISIONED},
                          {"modelUnits": 1, "provisionedModelName": name, "modelId": MODEL,
                           "clientRequestToken": name, "commitmentDuration": "OneMonth"})
        deployment = provider.deploy(MODEL, provisioned=True)
    assert (deployment.model_id, deployment.kind, deployment.hourly_cost_microusd) == (
        PROVISIONED, "provisioned", 21_180_000)
    assert "$21.18 per hour" in deployment.cost_note


def test_an_unpriced_provisioned_throughput_says_its_cost_is_unknown(bedrock: BedrockProvider) -> None:
    from botocore.stub import Stubber

    with Stubber(bedrock.bedrock) as stub:
        stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PROVISIONED})
        deployment = bedrock.deploy(MODEL, provisioned=True)
    assert deployment.hourly_cost_microusd is None and "does not know" in deployment.cost_note


def test_undeploy_deletes_the_right_kind_of_resource(bedrock: BedrockProvider) -> None:
    from botocore.stub import Stubber

    with Stubber(bedrock.bedrock) as stub:
        stub.add_response("delete_custom_model_deployment", {}, {"customModelDeploymentIdentifier": DEPLOYMENT})
        stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PROVISIONED})
        bedrock.undeploy(DEPLOYMENT)
        bedrock.undeploy(PROVISIONED)
        stub.assert_no_pending_responses()
