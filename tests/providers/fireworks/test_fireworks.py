"""FireworksProvider against a respx fake of Fireworks' API: the contract suite plus Fireworks' own behaviour."""

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
from tuneops.providers.fireworks import FireworksProvider
from tuneops.providers.fireworks import datasets as fw_datasets
from tuneops.testing import ProviderContract, prepared_file

ACCOUNT = "acme"
BASE = f"https://api.fireworks.ai/v1/accounts/{ACCOUNT}"
MODEL = "accounts/fireworks/models/llama-v3p1-8b-instruct"


class TestFireworksContract(ProviderContract):
    """The behaviour every adapter guarantees."""

    base_model = MODEL
    served_model = f"accounts/{ACCOUNT}/models/tuneops-run-01jq8done000000000"


def request(key: str = "tuneops-run_01jq8test000000000", **changes) -> CreateRequest:
    """A typical SFT request on an uploaded dataset."""
    up = Upload("fireworks", "ab" * 32, f"accounts/{ACCOUNT}/datasets/tuneops-abab", 2048)
    base = CreateRequest(job_name="support-triage", base_model=MODEL, method="sft", training=up, validation=None,
                         hyperparameters=Hyperparameters(epochs=3, learning_rate=2e-5), idempotency_key=key,
                         suffix="triage")
    return replace(base, **changes)


# -- datasets ----------------------------------------------------------------------------------


def test_upload_creates_a_dataset_named_after_the_content_and_uploads_it(provider, fake, tmp_path):
    path, digest = prepared_file(provider, tmp_path)
    up = provider.upload(path, sha256=digest)
    rid = fw_datasets.dataset_id_for(digest)
    assert up.provider_file_id == f"accounts/{ACCOUNT}/datasets/{rid}"
    assert fake.datasets[rid]["state"] == "READY" and fake.datasets[rid]["exampleCount"] == "12"
    assert path.read_bytes() in fake.uploaded[rid]


def test_a_dataset_that_is_already_ready_is_not_uploaded_again(provider, fake, tmp_path):
    path, digest = prepared_file(provider, tmp_path)
    provider.upload(path, sha256=digest)
    fake.uploaded.clear()
    assert provider.upload(path, sha256=digest).provider_file_id.endswith(fw_datasets.dataset_id_for(digest))
    assert fake.uploaded == {}


def test_large_files_go_through_a_signed_url_without_our_key(provider, fake, tmp_path, monkeypatch):
    monkeypatch.setattr(fw_datasets, "DIRECT_UPLOAD_MAX_BYTES", 10)
    path, digest = prepared_file(provider, tmp_path)
    provider.upload(path, sha256=digest)
    rid = fw_datasets.dataset_id_for(digest)
    assert fake.uploaded[rid] == path.read_bytes()  # raw bytes: the PUT path, not the multipart one
    assert fake.datasets[rid]["state"] == "READY"


# -- create ------------------------------------------------------------------------------------


def test_the_job_id_comes_from_the_key_and_a_replay_returns_the_same_job(provider, fake):
    first = provider.create(request())
    again = provider.create(request())
    assert first.provider_job_id == again.provider_job_id == \
        f"accounts/{ACCOUNT}/supervisedFineTuningJobs/tuneops-run-01jq8test000000000"
    assert len(fake.jobs) == 1 and len(fake.creates) == 2
    assert fake.creates[0].url.params["supervisedFineTuningJobId"] == "tuneops-run-01jq8test000000000"


def test_a_conflict_that_is_not_our_job_is_permanent(provider, fake):
    conflict = {"error": {"code": 409, "message": "model tuneops-run-x already exists", "status": "ALREADY_EXISTS"}}
    fake.respond_next("create-refused", httpx.Response(409, json=conflict))
    with pytest.raises(PermanentProviderError, match="no job"):
        provider.create(request(key="tuneops-run_x"))


def test_portable_batch_size_is_samples_and_tokens_are_an_option(provider):
    body = provider.create_body(request(hyperparameters=Hyperparameters(batch_size=16),
                                        options={"batch_size_tokens": 65536, "lora_rank": 16}))["json"]
    assert (body["batchSizeSamples"], body["batchSize"], body["loraRank"]) == (16, 65536, 16)


def test_dpo_says_dpo_explicitly_because_the_endpoint_defaults_to_grpo(provider):
    call = provider.create_body(request(method="dpo", hyperparameters=Hyperparameters(beta=0.1, epochs=1)))
    assert call["path"] == "dpoJobs" and call["params"] == {"dpoJobId": "tuneops-run-01jq8test000000000"}
    assert call["json"]["lossConfig"] == {"method": "DPO", "dpo": {"beta": 0.1}}
    assert call["json"]["trainingConfig"]["baseModel"] == MODEL


@pytest.mark.parametrize("hp,match", [(Hyperparameters(learning_rate_multiplier=2.0), "absolute"),
                                      (Hyperparameters(seed=7), "seed")])
def test_settings_fireworks_cannot_express_are_refused(provider, hp, match):
    with pytest.raises(UnsupportedOperation, match=match):
        provider.create_body(request(hyperparameters=hp))


def test_a_server_error_after_the_job_exists_is_ambiguous_and_find_settles_it(provider, harness):
    harness.fail_next("create", 503)
    with pytest.raises(AmbiguousCreate):
        provider.create(request(key="tuneops-run_amb"))
    assert [j.provider_job_id.rsplit("/", 1)[-1] for j in provider.find("tuneops-run_amb")] == ["tuneops-run-amb"]


# -- reads and controls ------------------------------------------------------------------------


def test_a_completed_job_names_its_model_in_the_account(provider, fake, fixture_json):
    done = fixture_json("sft_job_completed.json")
    fake.jobs[done["name"]] = done
    job = provider.get(done["name"])
    assert job.status is RunStatus.SUCCEEDED
    assert job.model_id == f"accounts/{ACCOUNT}/models/tuneops-run-01jq8done000000000"


def test_a_failed_job_keeps_fireworks_code_and_message(provider, fake, fixture_json):
    bad = fixture_json("sft_job_failed.json")
    fake.jobs[bad["name"]] = bad
    job = provider.get(bad["name"])
    assert (job.status, job.error_code) == (RunStatus.FAILED, "INVALID_ARGUMENT")
    assert "last message" in job.error_message
    events = provider.events(bad["name"])
    assert [e.level for e in events] == ["info", "error", "info"]


def test_get_accepts_a_bare_job_id_of_either_kind(provider, fake, fixture_json):
    dpo = fixture_json("dpo_job.json")
    fake.jobs[dpo["name"]] = dpo
    assert provider.get("tuneops-run-01jq8dpo00000000000").provider_job_id == dpo["name"]


def test_resume_continues_a_paused_job(provider, harness):
    job = provider.create(request())
    harness.set_status(job.provider_job_id, "JOB_STATE_PAUSED")
    assert provider.get(job.provider_job_id).status is RunStatus.PAUSED
    assert provider.resume(job.provider_job_id).status is RunStatus.QUEUED


def test_metrics_come_from_the_metrics_file(provider, fake, fixture_json):
    done = fixture_json("sft_job_completed.json")
    fake.jobs[done["name"]] = done
    fake.router.get(url__regex=r"https://storage\.googleapis\.com/fw-metrics/.*").mock(
        return_value=httpx.Response(200, text=(fake_file := (fixture_dir() / "metrics.jsonl").read_text())))
    points = provider.metrics(done["name"])
    assert fake_file and [(p.step, p.train_loss, p.valid_loss) for p in points] == [
        (1, 2.4, None), (40, 1.1, 1.3), (80, 0.8, None)]
    assert provider.checkpoints(done["name"]) == []


def test_dpo_metrics_come_from_the_documented_metrics_file_endpoint(provider, fake, fixture_json):
    from fireworks.types import DpoJobGetMetricsFileEndpointResponse

    dpo = fixture_json("dpo_job.json")
    fake.jobs[dpo["name"]] = dpo
    signed = {"signedUrl": "https://storage.googleapis.com/fw-metrics/acme/dpo/metrics.jsonl?X-Goog-Signature=d"}
    DpoJobGetMetricsFileEndpointResponse.model_validate(signed)  # the documented response shape
    endpoint = fake.router.get(url__regex=r".*/dpoJobs/[^/]+:getMetricsFileEndpoint$").mock(
        return_value=httpx.Response(200, json=signed))
    fake.router.get(url__regex=r"https://storage\.googleapis\.com/fw-metrics/acme/dpo/.*").mock(
        return_value=httpx.Response(200, text=(fixture_dir() / "metrics.jsonl").read_text()))
    assert [p.step for p in provider.metrics(dpo["name"])] == [1, 40, 80]
    assert endpoint.call_count == 1
    # an SFT job carries its signed URL itself; before Fireworks writes the file there is nothing to read
    running = fixture_json("sft_job.json")
    fake.jobs[running["name"]] = running
    assert "metricsFileSignedUrl" not in running and provider.metrics(running["name"]) == []
    assert endpoint.call_count == 1


def test_list_jobs_pages_through_both_kinds(provider, fake):
    for k in "abc":
        provider.create(request(key=f"tuneops-run_{k}"))
    pages = list(provider.list_jobs(limit=2))
    assert [len(p) for p in pages] == [2, 1, 0]


# -- deployment, inference, health, construction -------------------------------------------------


def test_deploy_creates_a_dedicated_deployment_once(provider, fake):
    model = "tuneops-run-01jq8done000000000"
    dep = provider.deploy(model)
    again = provider.deploy(model)
    assert dep.deployment_id == again.deployment_id and len(fake.deployments) == 1
    assert dep.model_id == f"accounts/{ACCOUNT}/models/{model}"
    assert dep.serve_model == f"{dep.model_id}#{dep.deployment_id}"
    assert provider.capabilities.needs_deployment


def test_infer_goes_to_the_inference_endpoint(provider, fake, fixture_json):
    route = fake.router.post("https://api.fireworks.ai/inference/v1/chat/completions")
    route.mock(return_value=httpx.Response(200, json=fixture_json("chat.json")))
    out = provider.infer("accounts/acme/models/m#accounts/acme/deployments/d", [{"role": "user", "content": "hi"}])
    assert (out.text, out.input_tokens, out.output_tokens) == ("technical", 28, 2)


def test_rate_limits_and_server_errors_are_transient(provider, harness):
    job = provider.create(request())
    harness.fail_next("get", 429, retry_after=7)
    with pytest.raises(TransientProviderError) as info:
        provider.get(job.provider_job_id)
    assert info.value.retry_after == 7 and info.value.code == "RESOURCE_EXHAUSTED"


def test_check_makes_one_authenticated_call(provider, fake):
    route = fake.router.get(f"{BASE}/datasets?pageSize=1")
    route.mock(return_value=httpx.Response(200, json={"datasets": []}))
    assert provider.check() == [(True, "account acme: authenticated call succeeded")]
    assert route.calls.last.request.headers["authorization"] == "Bearer fw-test-key-0123456789"


def test_the_account_comes_from_options_or_the_environment():
    with pytest.raises(MissingCredential, match="FIREWORKS_ACCOUNT_ID"):
        FireworksProvider(ProviderConfig(env={"FIREWORKS_API_KEY": "k" * 12}))
    p = FireworksProvider(ProviderConfig(env={"FIREWORKS_API_KEY": "k" * 12}, options={"account": "team"}))
    assert p.base_url == "https://api.fireworks.ai/v1/accounts/team"
    with pytest.raises(MissingCredential, match="FIREWORKS_API_KEY"):
        FireworksProvider(ProviderConfig(env={"FIREWORKS_ACCOUNT_ID": "team"}))


def test_the_wandb_key_is_only_in_the_sent_request(fake):
    secret = "wandb-secret-abcdef123456"
    with httpx.Client() as http:
        p = FireworksProvider(ProviderConfig(env={"FIREWORKS_API_KEY": "k" * 12, "FIREWORKS_ACCOUNT_ID": ACCOUNT,
                                                  "WANDB_API_KEY": secret}, http_client=http))
        req = request(options={"wandb": {"project": "triage"}})
        assert p.create_body(req)["json"]["wandbConfig"]["apiKey"] == "<WANDB_API_KEY>"
        job = p.create(req)
        assert json.loads(fake.creates[-1].content)["wandbConfig"]["apiKey"] == secret
        assert secret not in json.dumps(p.get(job.provider_job_id).raw)


def test_importing_the_adapter_loads_no_provider_sdk():
    code = ("import sys, tuneops.providers.fireworks; "
            "print(sorted(m for m in ('openai', 'together', 'fireworks', 'mistralai', 'boto3', 'google.genai') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def fixture_dir():
    """This provider's fixtures directory."""
    from pathlib import Path

    return Path(__file__).parent / "fixtures"
