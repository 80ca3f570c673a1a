"""OpenAIProvider against respx routes: every endpoint it uses, every status, every error class."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fakeopenai import FakeOpenAI, example_request, load

from tuneops.errors import (
    AmbiguousCreate,
    MissingCredential,
    PermanentProviderError,
    TransientProviderError,
    UnsupportedOperation,
)
from tuneops.provider import Hyperparameters, MetricPoint, ProviderConfig, RunStatus
from tuneops.providers.openai import ModelInfo, OpenAIProvider
from tuneops.providers.openai.status import STATUS_TABLE

BASE = "https://api.openai.com/v1"
KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as r:
        yield r


@pytest.fixture
def api(router: respx.MockRouter) -> FakeOpenAI:
    return FakeOpenAI(router, BASE)


@pytest.fixture
def provider(router: respx.MockRouter, http: httpx.Client) -> Iterator[OpenAIProvider]:
    p = OpenAIProvider(ProviderConfig(env={"OPENAI_API_KEY": KEY}, http_client=http))
    yield p
    p.close()


def _staged(tmp_path: Path, content: bytes = b'{"messages": []}\n' * 10) -> tuple[Path, str]:
    path = tmp_path / "data.jsonl"
    path.write_bytes(content)
    return path, "c" * 64


def _job(api: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path, key: str = "tuneops-run_a") -> str:
    path, digest = _staged(tmp_path)
    up = provider.upload(path, sha256=digest)
    return provider.create(example_request("openai", training=up, validation=None, idempotency_key=key)).provider_job_id


# -- construction ---------------------------------------------------------------------------------


def test_a_missing_key_names_the_variable_before_any_call(router: respx.MockRouter,
                                                          http: httpx.Client) -> None:
    with pytest.raises(MissingCredential, match="OPENAI_API_KEY"):
        OpenAIProvider(ProviderConfig(env={}, http_client=http))
    assert not router.calls


def test_calls_carry_the_key_as_a_bearer_token_and_the_sdk_never_retries(
        api: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    api.fail_next("get", 503)
    with pytest.raises(TransientProviderError):
        provider.get(jid)
    assert api.calls["get"] == 1  # tuneops retries in one place; the SDK's own retries are off
    assert api.op_requests("get")[0].headers["authorization"] == f"Bearer {KEY}"


# -- files and create -----------------------------------------------------------------------------


def test_a_small_file_goes_through_the_files_api(api: FakeOpenAI, provider: OpenAIProvider,
                                                  tmp_path: Path) -> None:
    path, digest = _staged(tmp_path)
    up = provider.upload(path, sha256=digest)
    assert (up.provider, up.sha256, up.bytes) == ("openai", digest, path.stat().st_size)
    assert api.contents[up.provider_file_id] == path.read_bytes()
    assert api.files[up.provider_file_id]["purpose"] == "fine-tune"
    assert api.calls["upload_part"] == 0


def test_the_create_body_of_the_example_spec_matches_the_golden_file(provider: OpenAIProvider) -> None:
    assert provider.create_body(example_request("openai")) == load("golden_create.json")


def test_create_sends_exactly_the_create_body_and_tags_the_job_with_the_key(
        api: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path) -> None:
    path, digest = _staged(tmp_path)
    up = provider.upload(path, sha256=digest)
    request = example_request("openai", training=up, validation=None)
    job = provider.create(request)
    assert api.bodies == [provider.create_body(request)]
    assert job.idempotency_key == request.idempotency_key
    assert (job.status, job.raw_status) == (RunStatus.VALIDATING, "validating_files")
    assert job.raw["metadata"]["tuneops_key"] == request.idempotency_key


def test_dpo_seed_suffix_metadata_and_wandb_pass_through(provider: OpenAIProvider) -> None:
    request = example_request(
        "openai", method="dpo", suffix="triage-dpo",
        hyperparameters=Hyperparameters(epochs=2, batch_size=8, learning_rate_multiplier=0.5, beta=0.1, seed=11),
        options={"metadata": {"team": "support"},
                 "wandb": {"project": "support-triage", "entity": "acme-ml", "tags": ["tuneops"]}})
    body = provider.create_body(request)
    assert body["method"] == {"type": "dpo", "dpo": {"hyperparameters": {
        "n_epochs": 2, "batch_size": 8, "learning_rate_multiplier": 0.5, "beta": 0.1}}}
    assert (body["seed"], body["suffix"]) == (11, "triage-dpo")
    assert body["metadata"]["team"] == "support" and body["metadata"]["tuneops_key"]
    assert body["integrations"] == [{"type": "wandb", "wandb": {
        "project": "support-triage", "entity": "acme-ml", "tags": ["tuneops"]}}]


@pytest.mark.parametrize("changes, message", [
    ({"hyperparameters": Hyperparameters(learning_rate=1e-5)}, "learning_rate_multiplier instead"),
    ({"hyperparameters": Hyperparameters(beta=0.1)}, "beta applies to DPO only"),
    ({"suffix": "x" * 65}, "the limit is 64"),
    ({"options": {"metadata": {f"k{i}": "v" for i in range(15)}}}, "at most 14"),
    ({"options": {"metadata": {"n": 3}}}, "must be a string"),
    ({"options": {"metadata": {"tuneops_key": "mine"}}}, "reserved"),
    ({"options": {"wandb": {"project": "p", "api_key": "x"}}}, "W&B API key is set once"),
    ({"options": {"wandb": {"entity": "acme"}}}, "needs at least project"),
])
def test_settings_openai_cannot_express_are_refused_before_sending(
        router: respx.MockRouter, provider: OpenAIProvider, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(UnsupportedOperation, match=message):
        provider.create_body(example_request("openai", **changes))
    assert not router.calls


# -- reconciliation, status, listing ------------------------------------------------------------


def test_find_filters_on_the_key_in_metadata_and_follows_every_page(
        router: respx.MockRouter, provider: OpenAIProvider, tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE, page_cap=2)
    wanted = [_job(api, provider, tmp_path, key="tuneops-run_dup") for _ in range(3)]
    _job(api, provider, tmp_path, key="tuneops-run_other")
    found = provider.find("tuneops-run_dup")
    assert sorted(j.provider_job_id for j in found) == sorted(wanted)
    pages = api.op_requests("list")
    assert len(pages) == 2 and all(r.url.params["metadata[tuneops_key]"] == "tuneops-run_dup" for r in pages)
    assert pages[1].url.params["after"] == found[1].provider_job_id


def test_find_checks_the_key_itself_when_the_server_ignores_the_filter(
        router: respx.MockRouter, provider: OpenAIProvider) -> None:
    other = {**load("job_queued.json"), "id": "ftjob-other", "metadata": {"tuneops_key": "tuneops-run_x"}}
    untagged = {**load("job_queued.json"), "id": "ftjob-untagged", "metadata": None}
    router.get(f"{BASE}/fine_tuning/jobs").respond(json={"object": "list", "data": [other, untagged],
                                                          "has_more": False})
    assert provider.find("tuneops-run_mine") == []


@pytest.mark.parametrize("raw, expected", sorted(STATUS_TABLE.items()))
def test_every_documented_status_maps_and_the_raw_status_is_kept(
        api: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path, raw: str, expected: RunStatus) -> None:
    jid = _job(api, provider, tmp_path)
    api.set_status(jid, raw)
    job = provider.get(jid)
    assert (job.status, job.raw_status, job.raw["status"]) == (expected, raw, raw)


def test_an_unknown_status_is_unknown_not_a_crash(api: FakeOpenAI, provider: OpenAIProvider,
                                                    tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    api.set_status(jid, "hibernating")
    assert provider.get(jid).status is RunStatus.UNKNOWN


def test_a_finished_job_reports_its_model_tokens_and_a_failed_one_its_error(
        router: respx.MockRouter, provider: OpenAIProvider) -> None:
    router.get(f"{BASE}/fine_tuning/jobs/ok").respond(json=load("job_succeeded.json"))
    router.get(f"{BASE}/fine_tuning/jobs/bad").respond(json=load("job_failed.json"))
    ok, bad = provider.get("ok"), provider.get("bad")
    assert ok.model_id == load("job_succeeded.json")["fine_tuned_model"] and ok.trained_tokens == 45210
    assert ok.finished_at is not None and ok.idempotency_key == "tuneops-run_01jd3k0000000000000"
    assert (bad.status, bad.error_code) == (RunStatus.FAILED, "invalid_training_file")
    assert "Line 3 is not a dictionary" in (bad.error_message or "")


def test_list_jobs_yields_pages_newest_first(router: respx.MockRouter, provider: OpenAIProvider,
                                             tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE, page_cap=2)
    ids = [_job(api, provider, tmp_path, key=f"tuneops-run_{i}") for i in range(3)]
    pages = [[j.provider_job_id for j in page] for page in provider.list_jobs(limit=2)]
    assert pages == [ids[::-1][:2], ids[::-1][2:]]


# -- controls -------------------------------------------------------------------------------------


def test_cancel_cancels_a_running_job_and_leaves_a_finished_one_alone(
        api: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path) -> None:
    running, done = _job(api, provider, tmp_path), _job(api, provider, tmp_path)
    api.set_status(running, "running")
    api.set_status(done, "succeeded")
    assert provider.cancel(running).status is RunStatus.CANCELLED
    assert provider.cancel(done).status is RunStatus.SUCCEEDED
    assert api.calls["cancel"] == 1


def test_cancel_of_a_job_that_finishes_meanwhile_is_a_no_op(router: respx.MockRouter,
                                                             provider: OpenAIProvider) -> None:
    running = {**load("job_queued.json"), "status": "running"}
    router.get(f"{BASE}/fine_tuning/jobs/j").mock(side_effect=[
        httpx.Response(200, json=running), httpx.Response(200, json=load("job_succeeded.json"))])
    router.post(f"{BASE}/fine_tuning/jobs/j/cancel").respond(
        400, json={"error": {"message": "Job has already completed", "type": "invalid_request_error",
                             "param": None, "code": "invalid_job_state"}})
    assert provider.cancel("j").status is RunStatus.SUCCEEDED


def test_pause_and_resume_a_running_job(api: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    api.set_status(jid, "running")
    assert provider.pause(jid).status is RunStatus.PAUSED
    assert provider.resume(jid).status is RunStatus.RUNNING


def test_pausing_a_queued_job_is_refused_with_the_providers_code(
        api: FakeOpenAI, provider: OpenAIProvider, tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    with pytest.raises(PermanentProviderError) as info:
        provider.pause(jid)
    assert info.value.code == "invalid_job_state" and "validating_files" in str(info.value)


# -- events, checkpoints, metrics, chat, models ---------------------------------------------------


def test_events_come_oldest_first_with_metrics_data_across_pages(
        router: respx.MockRouter, provider: OpenAIProvider, tmp_path: Path) -> None:
    api = FakeOpenAI(router, BASE, page_cap=1)
    jid = _job(api, provider, tmp_path)
    events = provider.events(jid)
    assert [e.message.split(":")[0] for e in events] == ["Created fine-tuning job", "Step 1/30", "Step 2/30"]
    assert events[1].data["train_loss"] == 1.31 and events[0].data == {}
    assert api.calls["events"] == 3


def test_checkpoints_come_by_step_with_their_model_ids(api: FakeOpenAI, provider: OpenAIProvider,
                                                       tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    api.set_status(jid, "succeeded")
    cps = provider.checkpoints(jid)
    assert [c.step for c in cps] == [10, 20]
    assert cps[1].model_id.endswith(":ckpt-step-20") and cps[1].metrics["valid_loss"] == 0.52


def test_metrics_come_from_the_result_file_once_the_job_has_one(api: FakeOpenAI, provider: OpenAIProvider,
                                                                tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    assert [m.step for m in provider.metrics(jid)] == [1, 2]  # while running: from metrics events
    api.set_status(jid, "succeeded")
    points = provider.metrics(jid)
    assert points[:2] == [MetricPoint(1, 1.31, None, 0.62, None), MetricPoint(2, 1.02, 0.99, 0.71, 0.7)]
    assert len(points) == 3 and api.calls["result"] == 1


def test_a_base64_encoded_result_file_is_read_too(api: FakeOpenAI, provider: OpenAIProvider,
                                                  tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    api.set_status(jid, "succeeded")
    rid = api.jobs[jid]["result_files"][0]
    api.contents[rid] = base64.b64encode(api.contents[rid])
    assert [m.step for m in provider.metrics(jid)] == [1, 2, 3]


def test_infer_returns_the_answer_and_the_billed_tokens(api: FakeOpenAI, provider: OpenAIProvider) -> None:
    model = load("job_succeeded.json")["fine_tuned_model"]
    answer = provider.infer(model, [{"role": "user", "content": "My invoice is wrong"}], temperature=0)
    assert (answer.text, answer.input_tokens, answer.output_tokens) == ("billing", 31, 2)
    sent = json.loads(api.op_requests("infer")[0].content)
    assert sent["model"] == model and sent["temperature"] == 0


def test_list_models_reports_announced_shutdown_dates(api: FakeOpenAI, provider: OpenAIProvider) -> None:
    models = provider.list_models()
    assert models[1] == ModelInfo("gpt-3.5-turbo-0125", date(2026, 9, 28))
    assert models[0].shutdown_date is None and len(models) == 3


def test_check_reports_a_working_key(api: FakeOpenAI, provider: OpenAIProvider) -> None:
    results = provider.check()
    assert all(ok for ok, _ in results) and "3 models visible" in results[-1][1]
    assert KEY not in repr(results) and api.calls["models"] == 1


def test_check_reports_a_rejected_key_without_showing_it(router: respx.MockRouter,
                                                          provider: OpenAIProvider) -> None:
    router.get(f"{BASE}/models").respond(401, json={"error": {
        "message": f"Incorrect API key provided: {KEY}.", "type": "invalid_request_error",
        "param": None, "code": "invalid_api_key"}})
    ok, message = provider.check()[-1]
    assert not ok and "invalid_api_key" in message and KEY not in message and "***" in message


# -- errors ---------------------------------------------------------------------------------------


def _http_date(seconds_from_now: float) -> str:
    from datetime import UTC, datetime, timedelta

    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


@pytest.mark.parametrize("operation, status, headers, expected, retry_after", [
    ("get", 429, {"retry-after-ms": "1500"}, TransientProviderError, 1.5),
    ("get", 429, {"retry-after": "2"}, TransientProviderError, 2.0),
    ("get", 429, {"retry-after": "http-date in 30s"}, TransientProviderError, 30.0),
    ("get", 408, {}, TransientProviderError, None),
    ("get", 409, {}, TransientProviderError, None),
    ("get", 500, {}, TransientProviderError, None),
    ("get", 503, {}, TransientProviderError, None),
    ("create", 429, {"retry-after": "1"}, TransientProviderError, 1.0),
    ("create", 408, {}, AmbiguousCreate, None),
    ("create", 409, {}, AmbiguousCreate, None),
    ("create", 500, {}, AmbiguousCreate, None),
    ("create", 502, {}, AmbiguousCreate, None),
    ("get", 400, {}, PermanentProviderError, None),
    ("get", 403, {}, PermanentProviderError, None),
    ("get", 404, {}, PermanentProviderError, None),
    ("create", 400, {}, PermanentProviderError, None),
])
def test_http_errors_are_translated(router: respx.MockRouter, provider: OpenAIProvider, operation: str,
                                    status: int, headers: dict[str, str], expected: type,
                                    retry_after: float | None) -> None:
    if headers.get("retry-after") == "http-date in 30s":
        headers = {"retry-after": _http_date(30)}
    body = load(f"error_{status}.json") if status in (400, 429, 500) else {
        "error": {"message": f"status {status}", "type": "x", "param": None, "code": f"code_{status}"}}
    if operation == "get":
        router.get(f"{BASE}/fine_tuning/jobs/j").respond(status, json=body, headers=headers)
        call = lambda: provider.get("j")  # noqa: E731
    else:
        router.post(f"{BASE}/fine_tuning/jobs").respond(status, json=body, headers=headers)
        call = lambda: provider.create(example_request("openai"))  # noqa: E731
    with pytest.raises(expected) as info:
        call()
    exc = info.value
    assert type(exc) is expected and exc.status == status and exc.operation == operation
    if retry_after is None:
        assert exc.retry_after is None
    else:
        assert exc.retry_after == pytest.approx(retry_after, abs=1.5)
    assert exc.code == (body["error"]["code"] or body["error"]["type"])
    assert body["error"]["message"] in str(exc)


@pytest.mark.parametrize("operation", ["get", "create"])
def test_a_429_for_insufficient_quota_is_permanent(router: respx.MockRouter, provider: OpenAIProvider,
                                                   operation: str) -> None:
    body = load("error_429_insufficient_quota.json")
    route = (router.get(f"{BASE}/fine_tuning/jobs/j") if operation == "get"
             else router.post(f"{BASE}/fine_tuning/jobs")).respond(429, json=body, headers={"retry-after": "1"})
    with pytest.raises(PermanentProviderError) as info:
        provider.get("j") if operation == "get" else provider.create(example_request("openai"))
    assert info.value.code == "insufficient_quota" and "add credit or quota" in str(info.value)
    assert route.call_count == 1  # asked once: waiting cannot fix an empty account


@pytest.mark.parametrize("failure, operation, expected", [
    (httpx.ReadTimeout("timed out"), "create", AmbiguousCreate),
    (httpx.RemoteProtocolError("peer closed connection"), "create", AmbiguousCreate),
    (httpx.ConnectTimeout("connect timed out"), "get", TransientProviderError),
    (httpx.ReadTimeout("timed out"), "get", TransientProviderError),
])
def test_timeouts_and_broken_connections_are_transient_and_ambiguous_on_create(
        router: respx.MockRouter, provider: OpenAIProvider, failure: Exception, operation: str,
        expected: type) -> None:
    router.post(f"{BASE}/fine_tuning/jobs").mock(side_effect=failure)
    router.get(f"{BASE}/fine_tuning/jobs/j").mock(side_effect=failure)
    with pytest.raises(expected) as info:
        provider.create(example_request("openai")) if operation == "create" else provider.get("j")
    assert type(info.value) is expected


def test_the_key_never_appears_in_raw_jobs_events_or_errors(api: FakeOpenAI, provider: OpenAIProvider,
                                                             tmp_path: Path) -> None:
    jid = _job(api, provider, tmp_path)
    seen = [provider.get(jid).raw, [replace(e, created_at=None) for e in provider.events(jid)]]
    api.fail_next("get", 400)
    with pytest.raises(PermanentProviderError) as info:
        provider.get(jid)
    seen += [str(info.value), repr(info.value.__dict__), info.value.__cause__]
    assert KEY not in repr(seen)
