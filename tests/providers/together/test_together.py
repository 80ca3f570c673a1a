"""TogetherProvider against a respx fake of Together's API: the contract suite plus Together's own behaviour."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

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
from tuneops.providers.together import TogetherProvider
from tuneops.testing import ProviderContract, prepared_file

BASE = "https://api.together.xyz/v1"
MODEL = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


class TestTogetherContract(ProviderContract):
    """The behaviour every adapter guarantees."""

    base_model = MODEL
    served_model = "acme/Meta-Llama-3.1-8B-Instruct-Reference-triage-tk0123456789abcd"
    serve_hardware = "1x_nvidia_h100_80gb_sxm"


def request(key: str = "tuneops-run_01jq8test000000000", **changes) -> CreateRequest:
    """A typical SFT request on an uploaded file."""
    up = Upload("together", "ab" * 32, "file-train-1", 2048)
    base = CreateRequest(job_name="support-triage", base_model=MODEL, method="sft", training=up, validation=None,
                         hyperparameters=Hyperparameters(epochs=3, learning_rate=2e-5), idempotency_key=key,
                         suffix="triage")
    return replace(base, **changes)


# -- upload ------------------------------------------------------------------------------------


def test_upload_follows_the_presigned_redirect_and_waits_for_validation(provider, fake, tmp_path):
    path, digest = prepared_file(provider, tmp_path)
    fake.processing = ["QUEUED", "RUNNING", "COMPLETED"]
    up = provider.upload(path, sha256=digest)
    assert up.provider_file_id in fake.files
    assert fake.pending_bytes[up.provider_file_id] == path.read_bytes()
    assert up.bytes == path.stat().st_size and up.sha256 == digest


def test_uploading_the_same_bytes_again_reuses_the_file(provider, fake, tmp_path):
    path, digest = prepared_file(provider, tmp_path)
    first = provider.upload(path, sha256=digest)
    fake.pending_bytes.clear()
    second = provider.upload(path, sha256=digest)
    assert second.provider_file_id == first.provider_file_id
    assert fake.pending_bytes == {}  # no second PUT


def test_a_file_together_rejects_fails_permanently_with_its_reason(provider, fake, tmp_path):
    path, digest = prepared_file(provider, tmp_path)
    fake.processing = ["INVALID_FORMAT"]
    with pytest.raises(PermanentProviderError, match="failed validation"):
        provider.upload(path, sha256=digest)


def test_a_file_still_validating_after_the_wait_is_transient(fake, tmp_path):
    with httpx.Client() as http:
        p = TogetherProvider(ProviderConfig(env={"TOGETHER_API_KEY": "k" * 12}, http_client=http,
                                            options={"file_wait_seconds": 0}), sleep=lambda s: None)
        path, digest = prepared_file(p, tmp_path)
        fake.processing = ["PENDING", "PENDING", "PENDING"]
        with pytest.raises(TransientProviderError, match="still being validated"):
            p.upload(path, sha256=digest)


# -- create / find -----------------------------------------------------------------------------


def test_the_key_travels_in_the_suffix_and_find_matches_only_it(provider, fake):
    job = provider.create(request(key="tuneops-run_a"))
    provider.create(request(key="tuneops-run_b"))
    sent = fake.bodies[0]["suffix"]
    assert sent.startswith("triage-tk") and len(sent) <= 40
    assert [j.provider_job_id for j in provider.find("tuneops-run_a")] == [job.provider_job_id]
    assert provider.find("tuneops-run_a")[0].idempotency_key == "tuneops-run_a"
    assert provider.find("tuneops-run_zzz") == []


def test_a_long_user_suffix_is_cut_but_the_key_token_survives(provider):
    body = provider.create_body(request(suffix="x" * 64))
    assert len(body["suffix"]) == 40
    assert body["suffix"].endswith(provider.suffix_for(request(suffix=None)))


def test_find_falls_back_to_the_output_model_name_when_suffix_is_not_echoed(provider, fake):
    job = provider.create(request(key="tuneops-run_c"))
    token = provider.suffix_for(request(key="tuneops-run_c", suffix=None))
    fake.jobs[job.provider_job_id].pop("suffix")
    fake.jobs[job.provider_job_id]["model_output_name"] = f"acme/{MODEL}-{token}-77aa"
    assert [j.provider_job_id for j in provider.find("tuneops-run_c")] == [job.provider_job_id]


def test_a_multiplier_is_refused_with_what_to_set_instead(provider):
    with pytest.raises(UnsupportedOperation, match=r"hyperparameters\.learning_rate"):
        provider.create_body(request(hyperparameters=Hyperparameters(learning_rate_multiplier=2.0)))


def test_full_training_and_dpo_are_expressed_as_together_expects(provider):
    full = provider.create_body(request(options={"training_type": "full"}))
    assert full["training_type"] == {"type": "Full"}
    dpo = provider.create_body(request(method="dpo", hyperparameters=Hyperparameters(beta=0.2)))
    assert dpo["training_method"] == {"method": "dpo", "dpo_beta": 0.2}
    with pytest.raises(UnsupportedOperation, match="lora"):
        provider.create_body(request(options={"training_type": "qlora"}))


def test_auto_hyperparameters_get_togethers_own_defaults(provider):
    body = provider.create_body(request(hyperparameters=Hyperparameters()))
    assert (body["n_epochs"], body["learning_rate"], body["batch_size"]) == (1, 1e-5, "max")
    assert body["training_type"]["lora_r"] == 8 and body["training_type"]["lora_alpha"] == 16


def test_the_wandb_key_is_sent_but_never_shown_or_stored(fake):
    secret = "wandb-secret-abcdef123456"
    with httpx.Client() as http:
        p = TogetherProvider(ProviderConfig(env={"TOGETHER_API_KEY": "k" * 12, "WANDB_API_KEY": secret},
                                            http_client=http), sleep=lambda s: None)
        req = request(options={"wandb": {"project": "triage", "name": "run-1"}})
        assert p.create_body(req)["wandb_key"] == "<WANDB_API_KEY>"
        job = p.create(req)
        assert fake.bodies[-1]["wandb_key"] == secret
        assert fake.bodies[-1]["wandb_project_name"] == "triage"
        fake.jobs[job.provider_job_id]["wandb_key"] = secret  # even if Together echoed it back
        assert secret not in json.dumps(p.get(job.provider_job_id).raw)


def test_wandb_without_a_key_in_the_environment_is_refused(provider):
    with pytest.raises(UnsupportedOperation, match="WANDB_API_KEY"):
        provider.create_body(request(options={"wandb": {"project": "triage"}}))


# -- reads -------------------------------------------------------------------------------------


def test_a_completed_job_has_its_model_cost_and_tokens(provider, fake, fixture_json):
    done = fixture_json("job_completed.json")
    fake.jobs[done["id"]] = done
    job = provider.get(done["id"])
    assert job.status is RunStatus.SUCCEEDED and job.raw_status == "completed"
    assert job.model_id == done["model_output_name"]
    assert job.cost_microusd == 1_620_000  # $1.62 from 1.62e9 nanodollars
    assert job.trained_tokens == 41250 * 3
    assert job.raw["suffix"] == done["suffix"]


def test_a_user_error_fails_with_the_reason_from_the_events(provider, fake, fixture_json):
    bad = fixture_json("job_user_error.json")
    fake.jobs[bad["id"]] = bad
    job = provider.get(bad["id"])
    assert job.status is RunStatus.FAILED
    assert job.error_code == "job_error"
    assert "no assistant message" in job.error_message


def test_events_are_oldest_first_with_levels(provider, fake, fixture_json):
    bad = fixture_json("job_user_error.json")
    fake.jobs[bad["id"]] = bad
    events = provider.events(bad["id"])
    assert events[0].message == "Fine tune request created"
    assert len({e.provider_event_id for e in events}) == 3
    assert [e.provider_event_id for e in provider.events(bad["id"])] == [e.provider_event_id for e in events]
    assert events[-1].level == "error" and events[-1].data["type"] == "job_error"


def test_metrics_merge_train_and_eval_rows_by_step(provider, fake):
    job = provider.create(request())
    points = provider.metrics(job.provider_job_id)
    assert [(p.step, p.train_loss, p.valid_loss) for p in points] == [
        (1, 2.31, None), (60, 1.12, 1.27), (120, 0.84, 1.05)]


def test_checkpoints_are_by_step_with_resumable_ids(provider, fake):
    job = provider.create(request())
    cps = provider.checkpoints(job.provider_job_id)
    assert [c.step for c in cps] == [40, 120]
    assert cps[0].provider_checkpoint_id == f"{job.provider_job_id}:40"
    assert cps[1].model_id.startswith("acme/")


def test_list_jobs_pages_newest_first(provider, fake):
    for k in "abc":
        provider.create(request(key=f"tuneops-run_{k}"))
    pages = list(provider.list_jobs(limit=2))
    assert [len(p) for p in pages] == [2, 1]


def test_pause_and_resume_are_refused_by_name(provider):
    with pytest.raises(UnsupportedOperation, match="together"):
        provider.resume("ft-1")


# -- errors ------------------------------------------------------------------------------------


def test_retry_after_ms_wins_over_retry_after(provider, fake):
    job = provider.create(request())
    fake.respond_next("get", httpx.Response(
        429, headers={"retry-after-ms": "1500", "retry-after": "9"}, json={"error": {"message": "slow down"}}))
    with pytest.raises(TransientProviderError) as info:
        provider.get(job.provider_job_id)
    assert info.value.retry_after == pytest.approx(1.5)


@pytest.mark.parametrize("status", [408, 409, 502, 503])
def test_timeouts_conflicts_and_server_errors_are_transient_on_reads(provider, fake, status):
    fake.respond_next("get", httpx.Response(status, json={}))
    with pytest.raises(TransientProviderError):
        provider.get("ft-x")


def test_auth_failure_is_permanent_and_keeps_togethers_message_without_the_key(provider, fake):
    fake.respond_next("get", httpx.Response(
        401, json={"error": {"message": "Invalid API key tg-test-key-0123456789", "code": "invalid_api_key"}}))
    with pytest.raises(PermanentProviderError) as info:
        provider.get("ft-x")
    assert info.value.code == "invalid_api_key" and info.value.status == 401
    assert "tg-test-key" not in str(info.value) and "Invalid API key" in str(info.value)


def test_a_timeout_on_create_is_ambiguous_but_a_refused_connection_is_not(provider, fake):
    route = fake.router.post(f"{BASE}/fine-tunes")
    route.mock(side_effect=httpx.ReadTimeout("read timed out"))
    with pytest.raises(AmbiguousCreate):
        provider.create(request())
    route.mock(side_effect=httpx.ConnectError("connection refused"))
    with pytest.raises(TransientProviderError) as info:
        provider.create(request())
    assert not isinstance(info.value, AmbiguousCreate)


def test_a_rate_limited_create_is_a_plain_refusal(provider, harness):
    harness.fail_next("create", 429, retry_after=2)
    with pytest.raises(TransientProviderError) as info:
        provider.create(request())
    assert not isinstance(info.value, AmbiguousCreate) and info.value.retry_after == 2


# -- money, serving, health, construction --------------------------------------------------------


def test_estimate_price_is_in_micro_dollars(provider, fake, fixture_json):
    route = fake.router.post(f"{BASE}/fine-tunes/estimate-price")
    route.mock(return_value=httpx.Response(200, json=fixture_json("estimate.json")))
    assert provider.estimate_price(request()) == 4_620_000
    sent = json.loads(route.calls.last.request.content)
    assert sent["training_file"] == "file-train-1" and sent["n_epochs"] == 3 and "suffix" not in sent
    route.mock(return_value=httpx.Response(200, json=fixture_json("estimate_unavailable.json")))
    assert provider.estimate_price(request()) is None


def test_infer_uses_the_openai_compatible_chat_endpoint(provider, fake, fixture_json):
    route = fake.router.post(f"{BASE}/chat/completions")
    route.mock(return_value=httpx.Response(200, json=fixture_json("chat.json")))
    out = provider.infer("acme/model", [{"role": "user", "content": "my card was charged twice"}], max_tokens=5)
    assert (out.text, out.input_tokens, out.output_tokens) == ("billing", 31, 2)
    assert json.loads(route.calls.last.request.content)["max_tokens"] == 5
    assert route.calls.last.request.headers["authorization"] == "Bearer tg-test-key-0123456789"


def test_check_reports_a_bad_key(provider, fake):
    fake.router.get(f"{BASE}/files").mock(return_value=httpx.Response(200, json={"data": []}))
    assert provider.check()[0][0] is True
    fake.router.get(f"{BASE}/files").mock(return_value=httpx.Response(401, json={"error": {"message": "bad"}}))
    ok, message = provider.check()[0]
    assert not ok and "API key" in message


def test_a_missing_key_is_named_before_any_call():
    with pytest.raises(MissingCredential, match="TOGETHER_API_KEY"):
        TogetherProvider(ProviderConfig(env={}))


def test_importing_the_adapter_loads_no_provider_sdk():
    code = ("import sys, tuneops.providers.together; "
            "print(sorted(m for m in ('openai', 'together', 'fireworks', 'mistralai', 'boto3', 'google.genai') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_file_checksum_is_the_content_hash(provider, fake, tmp_path):
    path, digest = prepared_file(provider, tmp_path)
    provider.upload(path, sha256=digest)
    assert digest == hashlib.sha256(Path(path).read_bytes()).hexdigest()
    assert digest in fake.checksums
