"""MistralProvider against a respx fake of Mistral's API: the contract suite plus Mistral's own behaviour."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import httpx
import pytest

from tuneops.errors import (
    AmbiguousCreate,
    MissingCredential,
    PermanentProviderError,
    TransientProviderError,
    UnsupportedOperation,
)
from tuneops.provider import CreateRequest, Hyperparameters, ProviderConfig, RunStatus, Upload
from tuneops.providers.mistral import MistralProvider
from tuneops.providers.mistral.status import STATUS_TABLE
from tuneops.testing import ProviderContract

MODEL = "open-mistral-7b"


class TestMistralContract(ProviderContract):
    """The behaviour every adapter guarantees."""

    base_model = MODEL


def request(key: str = "tuneops-run_01jq8test000000000", **changes) -> CreateRequest:
    """A typical SFT request on an uploaded file."""
    up = Upload("mistral", "ab" * 32, "c2d4e6f8-1a3b-4c5d-8e9f-0a1b2c3d4e5f", 2048)
    base = CreateRequest(job_name="support-triage", base_model=MODEL, method="sft", training=up, validation=None,
                         hyperparameters=Hyperparameters(epochs=3, learning_rate=1e-4), idempotency_key=key,
                         suffix="triage")
    return replace(base, **changes)


def test_create_is_two_phase_inert_then_started_after_validation(provider, fake):
    job = provider.create(request())
    assert fake.bodies[0]["auto_start"] is False
    assert fake.starts == [job.provider_job_id]
    assert job.status is RunStatus.QUEUED


def test_a_job_still_validating_when_create_returns_is_started_by_the_next_poll(fake):
    with httpx.Client() as http:
        p = MistralProvider(ProviderConfig(env={"MISTRAL_API_KEY": "k" * 12}, http_client=http,
                                           options={"validation_wait_seconds": 0}), sleep=lambda s: None)
        job = p.create(request())
        assert job.status is RunStatus.QUEUED and fake.starts == []  # not validated yet: not started
        assert p.find("tuneops-run_01jq8test000000000")[0].provider_job_id == job.provider_job_id
        polled = p.get(job.provider_job_id)
        assert fake.starts == [job.provider_job_id] and polled.raw_status == "QUEUED"


def test_a_validated_job_maps_to_pending_until_started():
    assert STATUS_TABLE["VALIDATED"] is RunStatus.PENDING
    assert STATUS_TABLE["FAILED_VALIDATION"] is RunStatus.FAILED


def test_an_ambiguous_create_is_settled_by_find(provider, harness, fake):
    harness.fail_next("create", 502)
    with pytest.raises(AmbiguousCreate):
        provider.create(request(key="tuneops-run_amb"))
    found = provider.find("tuneops-run_amb")
    assert len(found) == 1 and fake.starts == []  # the orphan never started training


def test_find_reads_every_page(provider, fake):
    for k in range(5):
        provider.create(request(key=f"tuneops-run_{k}"))
    import tuneops.providers.mistral.adapter as adapter

    adapter_page = adapter.PAGE_SIZE
    adapter.PAGE_SIZE = 2
    try:
        assert len(provider.find("tuneops-run_4")) == 1
        assert [len(p) for p in provider.list_jobs(limit=2)] == [2, 2, 1]
    finally:
        adapter.PAGE_SIZE = adapter_page


def test_the_suffix_keeps_the_key_token_within_the_limit(provider):
    body = provider.create_body(request(suffix="customer-support-triage"))
    assert len(body["suffix"]) <= 18 and body["suffix"].startswith("custome")
    assert body["suffix"].endswith(provider.suffix_for(request(suffix=None)))


@pytest.mark.parametrize("hp,match", [(Hyperparameters(learning_rate_multiplier=2.0), "absolute"),
                                      (Hyperparameters(batch_size=8), "batch size"),
                                      (Hyperparameters(seed=1), "seed")])
def test_settings_mistral_cannot_express_are_refused(provider, hp, match):
    with pytest.raises(UnsupportedOperation, match=match):
        provider.create_body(request(hyperparameters=hp))


def test_a_successful_job_has_model_cost_events_and_checkpoints(provider, fake, fixture_json):
    done = fixture_json("job_detailed_success.json")
    fake.jobs[done["id"]] = done
    job = provider.get(done["id"])
    assert job.status is RunStatus.SUCCEEDED and job.model_id == done["fine_tuned_model"]
    assert job.cost_microusd == 1_250_000 and job.trained_tokens == 1310720
    assert [c.step for c in provider.checkpoints(done["id"])] == [5, 10]
    points = provider.metrics(done["id"])
    assert [(p.step, p.train_loss, p.valid_loss, p.valid_accuracy) for p in points] == [
        (5, 1.73, 1.81, 0.52), (10, 0.91, 1.02, 0.71)]
    events = provider.events(done["id"])
    assert [e.message for e in events][-1] == "status-updated: SUCCESS"


def test_a_rejected_dataset_fails_with_the_reason_from_the_events(provider, fake, fixture_json):
    bad = fixture_json("job_detailed_failed.json")
    fake.jobs[bad["id"]] = bad
    job = provider.get(bad["id"])
    assert (job.status, job.error_code) == (RunStatus.FAILED, "FAILED_VALIDATION")
    assert "last message must be from the assistant" in job.error_message


def test_validation_errors_are_permanent_and_never_echo_the_wandb_key(fake):
    secret = "wandb-secret-abcdef123456"
    fake.respond_next("create", httpx.Response(422, json={"detail": [
        {"type": "value_error", "loc": ["body", "integrations", 0], "msg": "bad key",
         "input": {"api_key": secret}}]}))
    with httpx.Client() as http:
        p = MistralProvider(ProviderConfig(env={"MISTRAL_API_KEY": "k" * 12, "WANDB_API_KEY": secret},
                                           http_client=http), sleep=lambda s: None)
        req = request(options={"wandb": {"project": "triage"}})
        assert p.create_body(req)["integrations"][0]["api_key"] == "<WANDB_API_KEY>"
        with pytest.raises(PermanentProviderError) as info:
            p.create(req)
    assert fake.bodies[-1]["integrations"][0]["api_key"] == secret
    assert secret not in str(info.value) and "bad key" in str(info.value)


def test_rate_limits_are_transient_with_retry_after(provider, harness):
    job = provider.create(request())
    harness.fail_next("get", 429, retry_after=4)
    with pytest.raises(TransientProviderError) as info:
        provider.get(job.provider_job_id)
    assert info.value.retry_after == 4


def test_estimate_price_uses_the_dry_run(provider, fake):
    assert provider.estimate_price(request()) == 1_250_000


def test_infer_and_check(provider, fake, fixture_json):
    fake.router.post("https://api.mistral.ai/v1/chat/completions").mock(
        return_value=httpx.Response(200, json=fixture_json("chat.json")))
    out = provider.infer("ft:open-mistral-7b:x", [{"role": "user", "content": "reset my password"}])
    assert (out.text, out.input_tokens, out.output_tokens) == ("account", 25, 2)
    assert provider.check()[0][0] is True


def test_capabilities_say_the_api_is_deprecated_and_sft_only():
    caps = MistralProvider.capabilities
    assert caps.deprecated and "deprecated" in caps.deprecated and caps.methods == frozenset({"sft"})


def test_pause_and_resume_are_refused_by_name(provider):
    for op in (provider.pause, provider.resume):
        with pytest.raises(UnsupportedOperation, match="mistral"):
            op("00000000-0000-4000-8000-000000000001")


def test_a_missing_key_is_named_before_any_call():
    with pytest.raises(MissingCredential, match="MISTRAL_API_KEY"):
        MistralProvider(ProviderConfig(env={}))


def test_importing_the_adapter_loads_no_provider_sdk():
    code = ("import sys, tuneops.providers.mistral; "
            "print(sorted(m for m in ('openai', 'together', 'fireworks', 'mistralai', 'boto3', 'google.genai') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_uploads_send_the_file_with_purpose_fine_tune(provider, fake, tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"".join(provider.prepare([{"messages": [{"role": "user", "content": "a"},
                                                              {"role": "assistant", "content": "b"}]}], "sft")))
    up = provider.upload(path, sha256="c" * 64)
    assert up.provider_file_id in fake.files and json.loads(path.read_text())["messages"][1]["content"] == "b"
