"""VertexProvider behaviour a user would notice, against the respx fake of Vertex and Cloud Storage."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from fakevertex import BUCKET, FIXTURES, HOST, KEY, PARENT, TOKEN, TRAIN_SHA, FakeVertex, example_request, load

from tuneops.errors import (
    AmbiguousCreate,
    MissingCredential,
    PermanentProviderError,
    TransientProviderError,
    UnsupportedOperation,
)
from tuneops.provider import RunStatus, Upload
from tuneops.providers.vertex import VertexProvider
from tuneops.providers.vertex.errors import MissingOption
from tuneops.providers.vertex.labels import KEY_LABEL, encode_key
from tuneops.testing import prepared_file


def test_create_body_matches_the_golden_file(make_vertex: Callable[..., VertexProvider]) -> None:
    provider = make_vertex(adapter_size=4)
    assert provider.create_body(example_request()) == json.loads((FIXTURES / "golden_create_sft.json").read_text())
    dpo = provider.create_body(example_request("dpo", beta=0.1, learning_rate_multiplier=0.5))
    assert dpo == json.loads((FIXTURES / "golden_create_dpo.json").read_text())


@pytest.mark.parametrize(("hp", "named"), [
    ({"learning_rate": 1e-4}, "learning_rate_multiplier"),
    ({"batch_size": 8}, "batch_size"),
    ({"seed": 7}, "seed"),
])
def test_gemini_settings_vertex_cannot_express_are_refused_by_name(
        make_vertex: Callable[..., VertexProvider], hp: dict[str, object], named: str) -> None:
    with pytest.raises(UnsupportedOperation, match=named):
        make_vertex().create_body(example_request(**hp))


def test_open_models_take_an_absolute_learning_rate_and_batch_size(make_vertex: Callable[..., VertexProvider]) -> None:
    request = replace(example_request(learning_rate=2e-4, batch_size=8),
                      base_model="publishers/meta/models/llama3_1@llama-3.1-8b-instruct")
    params = make_vertex().create_body(request)["supervisedTuningSpec"]["hyperParameters"]
    assert params == {"epochCount": 3, "learningRate": 2e-4, "batchSize": 8}


@pytest.mark.parametrize("options, hp, base, version", [
    ({}, {}, None, "v1"),
    ({"tuning_mode": "peft_adapter"}, {}, None, "v1beta1"),
    ({}, {"learning_rate": 2e-4, "batch_size": 8}, "publishers/meta/models/llama3_1@llama-3.1-8b-instruct", "v1beta1"),
])
def test_creates_using_v1beta1_only_fields_go_to_v1beta1(
        vertex_api: FakeVertex, make_vertex: Callable[..., VertexProvider], options: dict, hp: dict,
        base: str | None, version: str) -> None:
    request = example_request(**hp)
    if base:
        request = replace(request, base_model=base)
    provider = make_vertex(**options)
    job = provider.create(request)
    assert [r.url.path.split("/")[1] for r in vertex_api.calls("create")] == [version]
    assert provider.get(job.provider_job_id).provider_job_id == job.provider_job_id  # read back (v1)


def test_an_unknown_adapter_size_is_refused(make_vertex: Callable[..., VertexProvider]) -> None:
    with pytest.raises(UnsupportedOperation, match="adapter_size"):
        make_vertex(adapter_size=3).create_body(example_request())


def test_without_a_bucket_admission_says_which_option_to_set(make_vertex: Callable[..., VertexProvider],
                                                              tmp_path: Path) -> None:
    provider = make_vertex(bucket=None)
    preflight = replace(example_request(), training=Upload("vertex", TRAIN_SHA, "file-preflight", 1))
    with pytest.raises(MissingOption, match=r"options\.vertex\.bucket"):
        provider.create_body(preflight)
    path, digest = prepared_file(provider, tmp_path)
    with pytest.raises(MissingOption, match=r"options\.vertex\.bucket"):
        provider.upload(path, sha256=digest)


def test_the_same_data_is_staged_once_at_its_content_address(vertex_api: FakeVertex,
                                                              make_vertex: Callable[..., VertexProvider],
                                                              tmp_path: Path) -> None:
    provider = make_vertex()
    path, digest = prepared_file(provider, tmp_path)
    first = provider.upload(path, sha256=digest)
    second = make_vertex().upload(path, sha256=digest)
    assert first.provider_file_id == second.provider_file_id == f"gs://{BUCKET}/tuneops/{digest}.jsonl"
    assert len(vertex_api.calls("upload", "POST")) == 1
    assert vertex_api.objects[f"tuneops/{digest}.jsonl"] == path.read_bytes()
    # the staged data is Gemini JSONL: systemInstruction + contents with user/model roles
    line = json.loads(path.read_bytes().splitlines()[0])
    assert set(line) == {"systemInstruction", "contents"} and line["contents"][-1]["role"] == "model"


def test_a_concurrent_upload_of_the_same_bytes_is_reused(vertex_api: FakeVertex,
                                                         make_vertex: Callable[..., VertexProvider],
                                                         tmp_path: Path) -> None:
    provider = make_vertex()
    path, digest = prepared_file(provider, tmp_path)
    name = f"tuneops/{digest}.jsonl"
    # another process finishes the same upload right after our existence check
    vertex_api.after_stat = lambda n: vertex_api.objects.setdefault(n, path.read_bytes())
    upload = provider.upload(path, sha256=digest)
    assert upload.provider_file_id == f"gs://{BUCKET}/{name}"
    assert [r.url.params.get("ifGenerationMatch") for r in vertex_api.calls("upload", "POST")] == ["0"]


def test_create_labels_the_job_so_find_can_reconcile_it(vertex_api: FakeVertex,
                                                        make_vertex: Callable[..., VertexProvider]) -> None:
    provider = make_vertex()
    job = provider.create(example_request())
    assert job.provider_job_id.startswith(f"{PARENT}/tuningJobs/")
    assert job.status is RunStatus.PENDING and job.idempotency_key == KEY
    stored = next(iter(vertex_api.jobs.values()))
    assert stored["labels"][KEY_LABEL] == KEY
    assert [j.provider_job_id for j in provider.find(KEY)] == [job.provider_job_id]
    filters = [r.url.params.get("filter") for r in vertex_api.calls("find")]
    assert filters == [f'labels.{KEY_LABEL}="{KEY}"']


def test_a_key_outside_the_label_rules_is_hashed_and_still_found(vertex_api: FakeVertex,
                                                                 make_vertex: Callable[..., VertexProvider]) -> None:
    key = "Run/With Upper-Case and a very long tail " + "x" * 80
    provider = make_vertex()
    job = provider.create(replace(example_request(), idempotency_key=key))
    label = next(iter(vertex_api.jobs.values()))["labels"][KEY_LABEL]
    assert label == encode_key(key) and len(label) <= 63 and label.startswith("h-")
    assert all(c.islower() or c.isdigit() or c in "-_" for c in label)
    assert job.idempotency_key == key  # recovered from the description
    assert [j.provider_job_id for j in provider.find(key)] == [job.provider_job_id]


def test_find_still_works_when_the_server_refuses_the_label_filter(vertex_api: FakeVertex,
                                                                   make_vertex: Callable[..., VertexProvider]) -> None:
    provider = make_vertex()
    mine = provider.create(example_request())
    provider.create(replace(example_request(), idempotency_key="tuneops-run_someoneelse"))
    vertex_api.reject_filter = True
    assert [j.provider_job_id for j in provider.find(KEY)] == [mine.provider_job_id]


def test_a_finished_job_reports_its_endpoint_as_the_model_and_keeps_the_raw_json(
        vertex_api: FakeVertex, make_vertex: Callable[..., VertexProvider]) -> None:
    vertex_api.jobs["4511"] = load("tuning_job_succeeded.json")
    job = make_vertex().get(f"{PARENT}/tuningJobs/4511")
    assert job.status is RunStatus.SUCCEEDED and job.raw_status == "JOB_STATE_SUCCEEDED"
    assert job.model_id == "projects/123456789012/locations/us-central1/endpoints/2235791853071351808"
    assert job.raw["tunedModel"]["model"].endswith("models/7719843027415531520@1")
    assert job.raw["tuningDataStats"]["supervisedTuningDataStats"]["tuningDatasetExampleCount"] == "384"
    assert job.trained_tokens == 30112 * 3
    assert job.idempotency_key == KEY
    assert job.finished_at is not None and job.finished_at.year == 2025
    assert [c.step for c in make_vertex().checkpoints("4511")] == [48, 96, 144]


def test_a_running_job_shows_its_finer_phase(vertex_api: FakeVertex,
                                             make_vertex: Callable[..., VertexProvider]) -> None:
    vertex_api.jobs["4511"] = load("tuning_job_running.json")
    job = make_vertex().get("4511")
    assert (job.status, job.raw_status) == (RunStatus.RUNNING, "JOB_STATE_RUNNING/TUNING_JOB_STATE_TUNING")
    assert job.model_id is None


def test_a_failed_job_keeps_the_providers_error(vertex_api: FakeVertex,
                                                make_vertex: Callable[..., VertexProvider]) -> None:
    vertex_api.jobs["4620"] = load("tuning_job_failed.json")
    job = make_vertex().get("4620")
    assert job.status is RunStatus.FAILED
    assert job.error_code == "INVALID_ARGUMENT" and "line 17" in (job.error_message or "")


def test_a_partial_success_is_a_success_with_a_warning(vertex_api: FakeVertex,
                                                       make_vertex: Callable[..., VertexProvider]) -> None:
    provider = make_vertex()
    job = provider.create(example_request())
    vertex_api.set_state(job.provider_job_id.rsplit("/", 1)[-1], "JOB_STATE_PARTIALLY_SUCCEEDED")
    got = provider.get(job.provider_job_id)
    assert got.status is RunStatus.SUCCEEDED and got.model_id
    assert got.error_code == "JOB_STATE_PARTIALLY_SUCCEEDED"


def test_list_jobs_follows_page_tokens(vertex_api: FakeVertex, make_vertex: Callable[..., VertexProvider]) -> None:
    pages = [load("tuning_jobs_page1.json"), load("tuning_jobs_page2.json")]
    seen_tokens: list[str | None] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen_tokens.append(request.url.params.get("pageToken"))
        return httpx.Response(200, json=pages[len(seen_tokens) - 1])

    vertex_api.router.route(method="GET", host=HOST, path=f"/v1/{PARENT}/tuningJobs").mock(side_effect=serve)
    listed = list(make_vertex().list_jobs(limit=2))
    assert [[j.raw_status for j in page] for page in listed] == [
        ["JOB_STATE_FAILED", "JOB_STATE_RUNNING/TUNING_JOB_STATE_PROCESSING_DATASET"], ["JOB_STATE_CANCELLED"]]
    assert listed[0][1].status is RunStatus.VALIDATING
    assert seen_tokens == [None, "CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA"]


def test_cancel_asks_vertex_once_and_leaves_finished_jobs_alone(vertex_api: FakeVertex,
                                                                make_vertex: Callable[..., VertexProvider]) -> None:
    provider = make_vertex()
    job = provider.create(example_request())
    assert provider.cancel(job.provider_job_id).status is RunStatus.CANCELLING
    vertex_api.set_state(job.provider_job_id.rsplit("/", 1)[-1], "JOB_STATE_SUCCEEDED")
    assert provider.cancel(job.provider_job_id).status is RunStatus.SUCCEEDED
    assert len(vertex_api.calls("cancel")) == 1


def test_infer_calls_generate_content_on_the_tuned_endpoint(vertex_api: FakeVertex,
                                                            make_vertex: Callable[..., VertexProvider]) -> None:
    endpoint = "projects/123456789012/locations/us-central1/endpoints/2235791853071351808"
    answer = make_vertex().infer(endpoint, [{"role": "system", "content": "Label the ticket."},
                                            {"role": "user", "content": "I was charged twice"}],
                                 temperature=0, max_tokens=5)
    assert (answer.text, answer.input_tokens, answer.output_tokens) == ("billing", 41, 1)
    (request,) = vertex_api.calls("infer")
    assert request.url.path == f"/v1/{endpoint}:generateContent"
    assert json.loads(request.content) == {
        "contents": [{"role": "user", "parts": [{"text": "I was charged twice"}]}],
        "systemInstruction": {"parts": [{"text": "Label the ticket."}]},
        "generationConfig": {"temperature": 0, "maxOutputTokens": 5}}


def test_infer_refuses_settings_gemini_does_not_take(make_vertex: Callable[..., VertexProvider]) -> None:
    with pytest.raises(UnsupportedOperation, match="logit_bias"):
        make_vertex().infer("gemini-2.5-flash", [{"role": "user", "content": "hi"}], logit_bias={})


def test_quota_exhaustion_is_transient_and_keeps_googles_message(vertex_api: FakeVertex,
                                                                 make_vertex: Callable[..., VertexProvider]) -> None:
    vertex_api.failures["create"] = [httpx.Response(429, headers={"retry-after-ms": "1500"},
                                                    json=load("error_resource_exhausted.json"))]
    with pytest.raises(TransientProviderError) as info:
        make_vertex().create(example_request())
    assert not isinstance(info.value, AmbiguousCreate)  # a 429 is a refusal: nothing was created
    assert info.value.code == "RESOURCE_EXHAUSTED" and info.value.retry_after == pytest.approx(1.5)
    assert "tuning_jobs_per_region" in str(info.value)


@pytest.mark.parametrize("status", [408, 409, 500, 503])
def test_a_create_that_may_have_happened_is_ambiguous(vertex_api: FakeVertex,
                                                      make_vertex: Callable[..., VertexProvider], status: int) -> None:
    vertex_api.failures["create"] = [httpx.Response(status, json={"error": {"code": status, "message": "x"}})]
    with pytest.raises(AmbiguousCreate):
        make_vertex().create(example_request())


def test_a_timeout_on_create_is_ambiguous_and_on_get_transient(vertex_api: FakeVertex,
                                                               make_vertex: Callable[..., VertexProvider]) -> None:
    vertex_api.failures["create"] = [httpx.ReadTimeout("read timed out")]
    vertex_api.failures["get"] = [httpx.ConnectError("connection refused")]
    provider = make_vertex()
    with pytest.raises(AmbiguousCreate):
        provider.create(example_request())
    with pytest.raises(TransientProviderError) as info:
        provider.get("1")
    assert not isinstance(info.value, AmbiguousCreate)


def test_a_missing_job_is_permanent_with_googles_code(make_vertex: Callable[..., VertexProvider]) -> None:
    with pytest.raises(PermanentProviderError) as info:
        make_vertex().get("424242")
    assert info.value.status == 404 and info.value.code == "NOT_FOUND"


def test_the_access_token_is_sent_but_never_kept_in_records_or_errors(
        vertex_api: FakeVertex, make_vertex: Callable[..., VertexProvider]) -> None:
    provider = make_vertex()
    job = provider.create(example_request())
    assert vertex_api.requests[0][1].headers["authorization"] == f"Bearer {TOKEN}"
    vertex_api.failures["get"] = [httpx.Response(401, json={"error": {"code": 401, "message": "bad token",
                                                                      "status": "UNAUTHENTICATED"}})]
    with pytest.raises(PermanentProviderError) as info:
        provider.get(job.provider_job_id)
    for text in (json.dumps(dict(job.raw)), str(info.value), repr(provider.api.tokens), repr(vars(provider))):
        assert TOKEN not in text


def test_no_credential_names_the_variables_to_set(monkeypatch: pytest.MonkeyPatch,
                                                  make_vertex: Callable[..., VertexProvider]) -> None:
    import google.auth
    import google.auth.exceptions

    def no_adc(*args: object, **kwargs: object) -> None:
        raise google.auth.exceptions.DefaultCredentialsError("no ADC here")

    monkeypatch.setattr(google.auth, "default", no_adc)
    with pytest.raises(MissingCredential, match="GOOGLE_OAUTH_ACCESS_TOKEN"):
        make_vertex(env={})


def test_no_project_names_the_variable_and_the_option(make_vertex: Callable[..., VertexProvider]) -> None:
    with pytest.raises(MissingCredential, match=r"GOOGLE_CLOUD_PROJECT.*options\.vertex\.project"):
        make_vertex(project=None)
    assert make_vertex(env={"GOOGLE_OAUTH_ACCESS_TOKEN": TOKEN, "GOOGLE_CLOUD_PROJECT": "p2"},
                       project=None).api.project == "p2"


def test_application_default_credentials_are_refreshed_over_httpx(vertex_api: FakeVertex,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  make_vertex: Callable[..., VertexProvider]) -> None:
    import google.auth

    class FakeCredentials:
        token: str | None = None
        valid = False

        def refresh(self, request: Callable[..., object]) -> None:
            response = request("https://oauth2.googleapis.com/token", method="POST", body=b"grant")
            self.token = json.loads(response.data)["access_token"]  # type: ignore[attr-defined]
            self.valid = True

    vertex_api.router.post("https://oauth2.googleapis.com/token").mock(
        return_value=httpx.Response(200, json={"access_token": "ya29.fresh", "expires_in": 3599}))
    monkeypatch.setattr(google.auth, "default", lambda scopes: (FakeCredentials(), "adc-project"))
    provider = make_vertex(env={}, project=None)
    assert provider.api.project == "adc-project"
    provider.infer("projects/adc-project/locations/us-central1/endpoints/1", [{"role": "user", "content": "hi"}])
    assert vertex_api.calls("infer")[0].headers["authorization"] == "Bearer ya29.fresh"
