"""BedrockProvider against moto's Bedrock and S3: what a user would notice.

moto never advances a job (it stays InProgress until stopped) and looks jobs up by name only;
tests drive transitions through the harness, which writes into moto's backend (see fakebedrock).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fakebedrock import (
    BUCKET,
    ENV,
    FIXTURES,
    KEY,
    ROLE,
    SECRET,
    BedrockHarness,
    aws_error,
    backend,
    example_request,
)

from tuneops.errors import (
    AmbiguousCreate,
    MissingCredential,
    PermanentProviderError,
    TransientProviderError,
)
from tuneops.provider import RunStatus
from tuneops.providers.bedrock import BedrockProvider
from tuneops.providers.bedrock.errors import MissingOption
from tuneops.providers.bedrock.naming import client_token, digest
from tuneops.testing import prepared_file

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"


def test_create_body_matches_the_golden_files(bedrock: BedrockProvider) -> None:
    nova = bedrock.create_body(example_request(learning_rate=1e-5))
    assert nova == json.loads((FIXTURES / "golden_create_nova.json").read_text())
    haiku = bedrock.create_body(example_request(HAIKU, learning_rate_multiplier=0.5, batch_size=8))
    assert haiku == json.loads((FIXTURES / "golden_create_haiku.json").read_text())


def test_create_submits_one_job_named_and_tokened_after_the_run(bedrock: BedrockProvider,
                                                               harness: BedrockHarness) -> None:
    job = bedrock.create(example_request())
    assert job.provider_job_id == f"support-triage-{digest(KEY)}"
    assert (job.status, job.raw_status) == (RunStatus.RUNNING, "InProgress")
    assert job.idempotency_key == KEY
    stored = backend().model_customization_jobs[job.provider_job_id]
    assert stored.client_request_token == client_token(KEY)
    assert stored.hyper_parameters == {"epochCount": "3"}
    assert stored.role_arn == ROLE and stored.output_data_config == {"s3Uri": f"s3://{BUCKET}/tuneops/output/"}
    assert {"key": "tuneops-key", "value": KEY} in stored.job_tags


def test_replaying_a_create_returns_the_same_job(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    first = bedrock.create(example_request())
    again = bedrock.create(example_request())  # moto refuses the name: the adapter adopts its own job
    assert again.provider_job_id == first.provider_job_id and harness.jobs_created() == 1
    tokens = {p["clientRequestToken"] for p in harness.calls.of("CreateModelCustomizationJob")}
    assert tokens == {client_token(KEY)}


def test_replay_that_aws_answers_with_the_original_job_is_not_a_second_job(bedrock: BedrockProvider,
                                                                          harness: BedrockHarness) -> None:
    first = bedrock.create(example_request())
    # Real Bedrock: same clientRequestToken -> it "ignores the request" and answers with the same job.
    harness.calls.failures["CreateModelCustomizationJob"] = [(aws_error(201)[0], {
        "jobArn": f"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/{first.provider_job_id}",
        "ResponseMetadata": {"HTTPStatusCode": 201, "HTTPHeaders": {}}})]
    assert bedrock.create(example_request()).provider_job_id == first.provider_job_id
    assert harness.jobs_created() == 1


def test_a_name_taken_by_another_request_is_refused_not_adopted(bedrock: BedrockProvider) -> None:
    body = bedrock.create_body(example_request())
    bedrock.bedrock.create_model_customization_job(**{**body, "clientRequestToken": "someone-else"})
    with pytest.raises(PermanentProviderError, match="another request"):
        bedrock.create(example_request())


def test_find_returns_only_this_runs_jobs(bedrock: BedrockProvider) -> None:
    mine = bedrock.create(example_request())
    bedrock.create(replace(example_request(), idempotency_key="tuneops-run_other"))
    assert [j.provider_job_id for j in bedrock.find(KEY)] == [mine.provider_job_id]
    assert bedrock.find("tuneops-run_nobody") == []


def test_sub_statuses_show_validation_before_training(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    job = bedrock.create(example_request())
    harness.set_status(job.provider_job_id, "InProgress/validation")
    got = bedrock.get(job.provider_job_id)
    assert (got.status, got.raw_status) == (RunStatus.VALIDATING, "InProgress/validation")
    assert got.raw["statusDetails"]["trainingDetails"]["status"] == "NotStarted"
    harness.set_status(job.provider_job_id, "InProgress/training")
    assert bedrock.get(job.provider_job_id).status is RunStatus.RUNNING


def test_a_completed_job_yields_the_custom_model_arn(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    job = bedrock.create(example_request())
    harness.set_status(job.provider_job_id, "Completed")
    done = bedrock.get(job.provider_job_id)
    assert done.status is RunStatus.SUCCEEDED
    assert done.model_id == backend().model_customization_jobs[job.provider_job_id].output_model_arn
    assert done.finished_at is not None and done.error_message is None


def test_a_failed_job_reports_bedrocks_failure_message(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    job = bedrock.create(example_request())
    assert bedrock.get(job.provider_job_id).error_message is None  # moto always has one; not shown while running
    backend().model_customization_jobs[job.provider_job_id].failure_message = "Insufficient permissions on s3"
    harness.set_status(job.provider_job_id, "Failed")
    failed = bedrock.get(job.provider_job_id)
    assert failed.status is RunStatus.FAILED and failed.model_id is None
    assert failed.error_message == "Insufficient permissions on s3"


def test_stop_cancels_once_and_leaves_finished_jobs_alone(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    job = bedrock.create(example_request())
    assert bedrock.cancel(job.provider_job_id).status is RunStatus.CANCELLED
    assert bedrock.cancel(job.provider_job_id).status is RunStatus.CANCELLED
    assert len(harness.calls.of("StopModelCustomizationJob")) == 1


def test_list_jobs_is_newest_first_in_pages(bedrock: BedrockProvider) -> None:
    for i in range(3):
        bedrock.create(replace(example_request(), idempotency_key=f"tuneops-run_{i}"))
    pages = list(bedrock.list_jobs(limit=2))
    assert [len(p) for p in pages] == [2, 1]
    assert all(j.status is RunStatus.RUNNING for p in pages for j in p)


def test_the_same_data_is_staged_in_s3_once(bedrock: BedrockProvider, make_bedrock: Callable[..., BedrockProvider],
                                            harness: BedrockHarness, tmp_path: Path) -> None:
    path, sha = prepared_file(bedrock, tmp_path)
    first = bedrock.upload(path, sha256=sha)
    assert first.provider_file_id == f"s3://{BUCKET}/tuneops/{sha}.jsonl"
    assert bedrock.upload(path, sha256=sha) == first
    (put,) = harness.calls.of("PutObject")
    assert put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode()
    stored = bedrock.s3.get_object(Bucket=BUCKET, Key=f"tuneops/{sha}.jsonl")["Body"].read()
    assert stored == path.read_bytes()
    line = json.loads(stored.splitlines()[0])
    assert line["schemaVersion"] == "bedrock-conversation-2024" and line["messages"][-1]["role"] == "assistant"


def test_a_different_object_at_the_address_is_replaced(bedrock: BedrockProvider, harness: BedrockHarness,
                                                       tmp_path: Path) -> None:
    path, sha = prepared_file(bedrock, tmp_path)
    bedrock.s3.put_object(Bucket=BUCKET, Key=f"tuneops/{sha}.jsonl", Body=b"truncated")
    bedrock.upload(path, sha256=sha)
    assert bedrock.s3.get_object(Bucket=BUCKET, Key=f"tuneops/{sha}.jsonl")["Body"].read() == path.read_bytes()


def test_loss_per_step_comes_from_the_jobs_s3_metrics_files(bedrock: BedrockProvider) -> None:
    job = bedrock.create(example_request())
    assert bedrock.metrics(job.provider_job_id) == []  # nothing written yet
    folder = f"tuneops/output/model-customization-job-{job.provider_job_id}"
    for key, name in ((f"{folder}/training_artifacts/step_wise_training_metrics.csv", "step_wise_training_metrics.csv"),
                      (f"{folder}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
                       "validation_metrics.csv")):
        bedrock.s3.put_object(Bucket=BUCKET, Key=key, Body=(FIXTURES / name).read_bytes())
    points = bedrock.metrics(job.provider_job_id)
    assert [p.step for p in points] == [0, 1, 2, 3, 4, 5]
    assert (points[2].train_loss, points[2].valid_loss) == (1.877, 1.991)
    assert (points[5].train_loss, points[5].valid_loss) == (0.644, 0.702)
    assert points[0].valid_loss is None


def test_throttling_is_transient_with_retry_after(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    harness.calls.failures["ListModelCustomizationJobs"] = [aws_error(400, "Rate exceeded",
                                                                      {"retry-after": "7"}, "ThrottlingException")]
    with pytest.raises(TransientProviderError) as info:
        bedrock.find(KEY)
    assert info.value.code == "ThrottlingException" and info.value.retry_after == 7
    assert "Rate exceeded" in str(info.value)


def test_a_quota_refusal_is_permanent(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    harness.calls.failures["CreateModelCustomizationJob"] = [
        aws_error(400, "Concurrent jobs limit reached", code="ServiceQuotaExceededException")]
    with pytest.raises(PermanentProviderError, match="Concurrent jobs"):
        bedrock.create(example_request())


def test_a_lost_connection_on_create_is_ambiguous(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    from botocore.exceptions import ReadTimeoutError

    harness.calls.failures["CreateModelCustomizationJob"] = [ReadTimeoutError(endpoint_url="https://bedrock")]
    with pytest.raises(AmbiguousCreate):
        bedrock.create(example_request())
    harness.calls.failures["GetModelCustomizationJob"] = [ReadTimeoutError(endpoint_url="https://bedrock")]
    with pytest.raises(TransientProviderError) as info:
        bedrock.get("anything")
    assert not isinstance(info.value, AmbiguousCreate)


def test_a_missing_job_is_permanent(bedrock: BedrockProvider) -> None:
    with pytest.raises(PermanentProviderError) as info:
        bedrock.get("no-such-job")
    assert info.value.code == "ResourceNotFoundException"


def test_missing_role_or_output_location_says_which_option_to_set(make_bedrock: Callable[..., BedrockProvider]) -> None:
    with pytest.raises(MissingOption, match=r"options\.bedrock\.role_arn"):
        make_bedrock(role_arn=None).create_body(example_request())
    with pytest.raises(MissingOption, match=r"output_s3_uri"):
        make_bedrock(bucket=None).create_body(example_request())
    body = make_bedrock(bucket=None, output_s3_uri="s3://elsewhere/out/").create_body(example_request())
    assert body["outputDataConfig"] == {"s3Uri": "s3://elsewhere/out/"}


def test_credentials_come_from_the_given_environment_only(make_bedrock: Callable[..., BedrockProvider]) -> None:
    with pytest.raises(MissingCredential, match="AWS_ACCESS_KEY_ID or AWS_PROFILE"):
        make_bedrock(env={"AWS_REGION": "us-east-1"})
    with pytest.raises(MissingCredential, match="AWS_SECRET_ACCESS_KEY"):
        make_bedrock(env={"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIA"})
    with pytest.raises(MissingCredential, match="AWS_REGION"):
        make_bedrock(env={k: v for k, v in ENV.items() if k != "AWS_REGION"})
    assert make_bedrock(env={k: v for k, v in ENV.items() if k != "AWS_REGION"}, region="eu-central-1")


def test_the_secret_never_reaches_records_or_errors(bedrock: BedrockProvider, harness: BedrockHarness) -> None:
    job = bedrock.create(example_request())
    harness.fail_next("get", 403)
    with pytest.raises(PermanentProviderError) as info:
        bedrock.get(job.provider_job_id)
    texts = [json.dumps(dict(job.raw), default=str), str(info.value), repr(vars(bedrock)),
             str(bedrock.create_body(example_request()))]
    assert not any(SECRET in t for t in texts)


def test_infer_uses_converse_with_system_prompt_and_settings(bedrock: BedrockProvider) -> None:
    from botocore.stub import Stubber

    model = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123"
    with Stubber(bedrock.runtime) as stub:  # moto has no Converse; the stub checks our request's shape
        stub.add_response("converse", json.loads((FIXTURES / "converse_response.json").read_text()), {
            "modelId": model, "system": [{"text": "Label the ticket."}],
            "messages": [{"role": "user", "content": [{"text": "I was charged twice"}]}],
            "inferenceConfig": {"temperature": 0, "maxTokens": 5}})
        answer = bedrock.infer(model, [{"role": "system", "content": "Label the ticket."},
                                       {"role": "user", "content": "I was charged twice"}],
                               temperature=0, max_tokens=5)
    assert (answer.text, answer.input_tokens, answer.output_tokens) == ("billing", 38, 2)


def _job_from(bedrock: BedrockProvider, fixture: str) -> Any:
    from botocore.stub import Stubber

    with Stubber(bedrock.bedrock) as stub:  # validates the fixture against botocore's output shape
        stub.add_response("get_model_customization_job", json.loads((FIXTURES / fixture).read_text()))
        return bedrock.get("support-triage-5f7c1a9e20b4d6c3")


def test_documented_job_shapes_map_as_a_user_expects(bedrock: BedrockProvider) -> None:
    validating = _job_from(bedrock, "get_job_validating.json")
    assert (validating.status, validating.raw_status) == (RunStatus.VALIDATING, "InProgress/validation")
    assert validating.idempotency_key == KEY and validating.finished_at is None
    done = _job_from(bedrock, "get_job_completed.json")
    assert done.status is RunStatus.SUCCEEDED
    assert (done.model_id or "").endswith("custom-model/amazon.nova-micro-v1:0:128k/c0ffee123456")
    assert done.raw["finalTrainingLoss"] == 0.644 and done.raw["validationMetrics"] == [{"validationLoss": 0.702}]
    assert done.created_at is not None and done.finished_at is not None
    failed = _job_from(bedrock, "get_job_failed.json")
    assert failed.status is RunStatus.FAILED and "alternate" in (failed.error_message or "")
