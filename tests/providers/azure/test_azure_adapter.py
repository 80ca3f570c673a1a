"""AzureOpenAIProvider against respx routes: both API styles and auth modes, Azure's model names and
limits, waiting for file import, serving through a deployment, and ARM deployments."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
from tuneops.provider import ProviderConfig, RunStatus
from tuneops.providers.openai import AzureDeployment, AzureOpenAIProvider
from tuneops.providers.openai.azure import AZURE_STATUS_TABLE

FIXTURES = Path(__file__).with_name("fixtures")
ENDPOINT = "https://res.openai.azure.com"
KEY = "azure-key-0123456789abcdef"
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.entra-token"
ARM_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.management-token"
DATED = "2024-10-21"
ARM = ("https://management.azure.com/subscriptions/sub-1/resourceGroups/rg-tuneops/providers/"
       "Microsoft.CognitiveServices/accounts/res/deployments")
FT_MODEL = load("job_succeeded.json", FIXTURES)["fine_tuned_model"]


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as r:
        yield r


def _fake(router: respx.MockRouter, style: str = "v1", auth: str = "key", **kw: Any) -> FakeOpenAI:
    expected = {"key": ("api-key", KEY), "token": ("authorization", f"Bearer {TOKEN}"),
                "provider": ("authorization", "Bearer from-provider")}[auth]
    if style == "v1" and auth == "key":
        expected = ("authorization", f"Bearer {KEY}")  # v1 takes the key as a bearer token

    def check(request: httpx.Request) -> bool:
        other = "api-key" if expected[0] == "authorization" else "authorization"
        return request.headers.get(expected[0]) == expected[1] and other not in request.headers

    if style == "v1":
        return FakeOpenAI(router, f"{ENDPOINT}/openai/v1", fixtures=FIXTURES, expect_auth=check, **kw)
    return FakeOpenAI(router, f"{ENDPOINT}/openai", fixtures=FIXTURES, expect_auth=check,
                      query={"api-version": style},
                      chat_path=r"/deployments/(?P<deployment>[^/?]+)/chat/completions", **kw)


def _provider(http: httpx.Client, style: str = "v1", auth: str = "key", env: dict[str, str] | None = None,
              **options: Any) -> AzureOpenAIProvider:
    opts: dict[str, Any] = {"endpoint": ENDPOINT, "file_poll_seconds": 0, **options}
    if style != "v1":
        opts["api_version"] = style
    if auth == "provider":
        opts["azure_ad_token_provider"] = lambda: "from-provider"
    cred = {"key": {"AZURE_OPENAI_API_KEY": KEY}, "token": {"AZURE_OPENAI_AD_TOKEN": TOKEN},
            "provider": {}}[auth]
    return AzureOpenAIProvider(ProviderConfig(options=opts, env={**cred, **(env or {})}, http_client=http))


def _job(p: AzureOpenAIProvider, tmp_path: Path, **changes: Any) -> str:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"messages": []}\n' * 10)
    up = p.upload(path, sha256="f" * 64)
    return p.create(example_request("azure", training=up, validation=None, **changes)).provider_job_id


# -- construction and auth -----------------------------------------------------------------------


def test_missing_credentials_and_endpoint_are_named_before_any_call(router: respx.MockRouter,
                                                                    http: httpx.Client) -> None:
    with pytest.raises(MissingCredential, match="AZURE_OPENAI_API_KEY or AZURE_OPENAI_AD_TOKEN"):
        AzureOpenAIProvider(ProviderConfig(options={"endpoint": ENDPOINT}, env={}, http_client=http))
    with pytest.raises(MissingCredential, match=r"AZURE_OPENAI_ENDPOINT.*\[providers\.azure\].*never in a job spec"):
        AzureOpenAIProvider(ProviderConfig(env={"AZURE_OPENAI_API_KEY": KEY}, http_client=http))
    assert not router.calls


@pytest.mark.parametrize("style, auth", [("v1", "key"), ("v1", "token"), ("v1", "provider"),
                                         (DATED, "key"), (DATED, "token"), (DATED, "provider")])
def test_each_api_style_and_auth_mode_reaches_the_right_url_with_the_right_header(
        router: respx.MockRouter, http: httpx.Client, tmp_path: Path, style: str, auth: str) -> None:
    api = _fake(router, style, auth)
    p = _provider(http, style, auth)
    jid = _job(p, tmp_path)
    assert p.get(jid).provider_job_id == jid
    request = api.op_requests("get")[0]
    prefix = "/openai/v1/" if style == "v1" else "/openai/fine_tuning/"
    assert request.url.path.startswith(prefix)
    assert request.url.params.get("api-version") == (None if style == "v1" else DATED)


def test_endpoint_and_api_version_come_from_the_environment_too(router: respx.MockRouter,
                                                                 http: httpx.Client, tmp_path: Path) -> None:
    api = _fake(router, DATED, "key")
    p = AzureOpenAIProvider(ProviderConfig(env={"AZURE_OPENAI_API_KEY": KEY, "AZURE_OPENAI_ENDPOINT": ENDPOINT,
                                                "OPENAI_API_VERSION": DATED}, http_client=http))
    p.list_models()
    assert api.calls["models"] == 1


def test_an_entra_token_takes_precedence_over_a_key(router: respx.MockRouter, http: httpx.Client) -> None:
    api = _fake(router, DATED, "token")
    p = _provider(http, DATED, "token", env={"AZURE_OPENAI_API_KEY": KEY})
    assert p.list_models() and api.calls["models"] == 1
    ok, message = p.check()[0]
    assert ok and "AZURE_OPENAI_AD_TOKEN" in message


# -- create body ----------------------------------------------------------------------------------


def test_the_create_body_of_the_example_spec_matches_the_golden_file(http: httpx.Client) -> None:
    assert _provider(http).create_body(example_request("azure")) == load("golden_create.json", FIXTURES)


@pytest.mark.parametrize("base, azure", [("gpt-3.5-turbo-0125", "gpt-35-turbo-0125"),
                                         ("gpt-35-turbo-0125", "gpt-35-turbo-0125"),
                                         ("gpt-4o-mini-2024-07-18", "gpt-4o-mini-2024-07-18"),
                                         ("gpt-4.1-2025-04-14", "gpt-4.1-2025-04-14")])
def test_base_models_get_their_azure_names(http: httpx.Client, base: str, azure: str) -> None:
    assert _provider(http).create_body(example_request("azure", base_model=base))["model"] == azure


@pytest.mark.parametrize("style", [DATED, "v1"])
def test_suffixes_are_40_characters_of_letters_digits_dash_and_underscore(http: httpx.Client, style: str) -> None:
    with pytest.raises(UnsupportedOperation, match="the limit is 40"):
        _provider(http, style).create_body(example_request("azure", suffix="s" * 41))
    with pytest.raises(UnsupportedOperation, match="letters, digits"):
        _provider(http, style).create_body(example_request("azure", suffix="triage.v2"))
    assert _provider(http, style).create_body(example_request("azure", suffix="Tri_age-2" + "s" * 31))[
        "suffix"] == "Tri_age-2" + "s" * 31


def test_azures_result_file_column_validation_mean_token_accuracy_is_read() -> None:
    from tuneops.providers.openai.results import parse_result_csv

    text = ("step,train_loss,train_mean_token_accuracy,valid_loss,validation_mean_token_accuracy\n"
            "1,1.2,0.61,1.3,0.58\n2,0.9,0.7,1.0,0.66\n")
    points = parse_result_csv(text)
    assert [(p.step, p.train_accuracy, p.valid_accuracy) for p in points] == [(1, 0.61, 0.58), (2, 0.7, 0.66)]


# -- files, jobs, statuses, serving ---------------------------------------------------------------


def test_upload_waits_until_azure_has_imported_the_file(router: respx.MockRouter, http: httpx.Client,
                                                        tmp_path: Path) -> None:
    api = _fake(router)
    api.file_statuses = ["pending", "running"]
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"{}\n")
    up = _provider(http).upload(path, sha256="f" * 64)
    assert api.calls["file"] == 2 and up.provider_file_id in api.files


@pytest.mark.parametrize("statuses, options, expected", [
    (["error"], {}, PermanentProviderError),
    (["pending"] * 50, {"file_wait_seconds": 0}, TransientProviderError),
])
def test_a_file_azure_rejects_or_never_imports_fails_the_upload(
        router: respx.MockRouter, http: httpx.Client, tmp_path: Path, statuses: list[str],
        options: dict[str, Any], expected: type) -> None:
    api = _fake(router)
    api.file_statuses = statuses
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"{}\n")
    with pytest.raises(expected):
        _provider(http, **options).upload(path, sha256="f" * 64)


@pytest.mark.parametrize("raw, expected", sorted(AZURE_STATUS_TABLE.items()))
def test_every_status_maps_including_azures_older_ones(router: respx.MockRouter, http: httpx.Client,
                                                       tmp_path: Path, raw: str, expected: RunStatus) -> None:
    api = _fake(router)
    p = _provider(http)
    jid = _job(p, tmp_path)
    api.set_status(jid, raw)
    assert (p.get(jid).status, p.get(jid).raw_status) == (expected, raw)


def test_a_finished_job_reports_the_azure_model_id_and_keeps_azure_only_fields(
        router: respx.MockRouter, http: httpx.Client) -> None:
    router.get(f"{ENDPOINT}/openai/v1/fine_tuning/jobs/j").respond(json=load("job_succeeded.json", FIXTURES))
    job = _provider(http).get("j")
    assert job.model_id == FT_MODEL and job.raw["user_provided_suffix"] == "triage"


@pytest.mark.parametrize("style", ["v1", DATED])
def test_infer_goes_to_the_deployment(router: respx.MockRouter, http: httpx.Client, style: str) -> None:
    api = _fake(router, style)
    answer = _provider(http, style).infer("support-triage-ft", [{"role": "user", "content": "refund?"}])
    assert answer.text == "billing"
    request = api.op_requests("infer")[0]
    if style == "v1":
        assert json.loads(request.content)["model"] == "support-triage-ft"
    else:
        assert request.url.path == "/openai/deployments/support-triage-ft/chat/completions"


def test_pause_resume_and_cancel(router: respx.MockRouter, http: httpx.Client, tmp_path: Path) -> None:
    api = _fake(router)
    p = _provider(http)
    jid = _job(p, tmp_path)
    api.set_status(jid, "running")
    assert p.pause(jid).status is RunStatus.PAUSED and p.resume(jid).status is RunStatus.RUNNING
    assert p.cancel(jid).status is RunStatus.CANCELLED


def test_find_uses_the_key_in_metadata(router: respx.MockRouter, http: httpx.Client, tmp_path: Path) -> None:
    _fake(router)
    p = _provider(http)
    jid = _job(p, tmp_path, idempotency_key="tuneops-run_az")
    assert [j.provider_job_id for j in p.find("tuneops-run_az")] == [jid] and p.find("tuneops-run_no") == []


def test_errors_are_translated_and_never_show_the_credential(router: respx.MockRouter, http: httpx.Client,
                                                             tmp_path: Path) -> None:
    api = _fake(router, DATED, "token")
    p = _provider(http, DATED, "token")
    jid = _job(p, tmp_path)
    api.fail_next("get", 429, retry_after=4)
    with pytest.raises(TransientProviderError) as rate:
        p.get(jid)
    assert rate.value.retry_after == 4
    api.fail_next("create", 503)
    with pytest.raises(AmbiguousCreate):
        p.create(example_request("azure", training=p.upload(tmp_path / "train.jsonl", sha256="f" * 64)))
    router.get(f"{ENDPOINT}/openai/fine_tuning/jobs/leak").respond(401, json={"error": {
        "code": "401", "message": f"Access denied for token {TOKEN}"}})
    with pytest.raises(PermanentProviderError) as denied:
        p.get("leak")
    assert TOKEN not in str(denied.value) and TOKEN not in json.dumps(p.get(jid).raw)


def test_models_report_announced_shutdown_dates(router: respx.MockRouter, http: httpx.Client) -> None:
    _fake(router)
    models = dict(_provider(http).list_models())
    assert str(models["gpt-4o-mini-2024-07-18"]) == "2026-09-15" and models[FT_MODEL] is None


def test_the_dated_api_reports_when_a_model_stops_serving(router: respx.MockRouter, http: httpx.Client) -> None:
    router.get(f"{ENDPOINT}/openai/models").respond(json=load("models_page_dated.json", FIXTURES))
    models = dict(_provider(http, DATED).list_models())
    assert str(models["gpt-4o-mini-2024-07-18"]) == "2026-10-01" and str(models[FT_MODEL]) == "2026-10-12"


# -- deployments ----------------------------------------------------------------------------------


def _deploying(http: httpx.Client, **options: Any) -> AzureOpenAIProvider:
    opts = {"subscription_id": "sub-1", "resource_group": "rg-tuneops", **options}
    return _provider(http, env={"AZURE_MANAGEMENT_TOKEN": ARM_TOKEN}, **opts)


def test_deploy_puts_the_deployment_through_arm_and_notes_the_cost_as_unknown(
        router: respx.MockRouter, http: httpx.Client) -> None:
    route = router.put(f"{ARM}/support-triage-ft").respond(201, json=load("deployment_creating.json", FIXTURES))
    dep = _deploying(http).deploy(FT_MODEL, name="support-triage-ft")
    request = route.calls.last.request
    assert request.url.params["api-version"] == "2025-09-01"
    assert request.headers["authorization"] == f"Bearer {ARM_TOKEN}"
    assert json.loads(request.content) == {"sku": {"name": "Standard", "capacity": 1}, "properties": {
        "model": {"format": "OpenAI", "name": FT_MODEL, "version": "1"}}}
    assert isinstance(dep, AzureDeployment)
    assert (dep.name, dep.model_id, dep.sku, dep.provisioning_state) == (
        "support-triage-ft", FT_MODEL, "Standard", "Creating")
    assert dep.hourly_cost_microusd is None and dep.hourly_cost_note.startswith("unknown")
    assert dep.provider_deployment_id.endswith("/deployments/support-triage-ft")


def test_deploy_records_the_hourly_cost_given_in_options_and_derives_a_name(
        router: respx.MockRouter, http: httpx.Client) -> None:
    answer = {**load("deployment_creating.json", FIXTURES), "name": None, "sku": {"name": "Developer"}}
    route = router.put(url__startswith=ARM).respond(200, json=answer)
    dep = _deploying(http, hosting_cost_per_hour={"Developer": 0, "Standard": 1.7}).deploy(
        FT_MODEL, sku="Developer")
    assert route.calls.last.request.url.path.endswith("/deployments/" + FT_MODEL)
    assert (dep.sku, dep.hourly_cost_microusd) == ("Developer", 0) and "options" in dep.hourly_cost_note


def test_deployment_state_and_undeploy(router: respx.MockRouter, http: httpx.Client) -> None:
    router.get(f"{ARM}/support-triage-ft").respond(json=load("deployment_succeeded.json", FIXTURES))
    gone = router.delete(f"{ARM}/support-triage-ft").mock(side_effect=[httpx.Response(200), httpx.Response(404)])
    p = _deploying(http)
    assert p.deployment("support-triage-ft").provisioning_state == "Succeeded"
    p.undeploy("support-triage-ft")
    p.undeploy("support-triage-ft")  # already gone: not an error
    assert gone.call_count == 2


@pytest.mark.parametrize("status, fixture, expected", [
    (400, "arm_error_400.json", PermanentProviderError),
    (409, "arm_error_409.json", TransientProviderError),
    (429, "arm_error_409.json", TransientProviderError),
    (503, "arm_error_409.json", TransientProviderError),
])
def test_deploy_errors_keep_azures_code_and_a_failed_put_is_never_ambiguous(
        router: respx.MockRouter, http: httpx.Client, status: int, fixture: str, expected: type) -> None:
    body = load(fixture, FIXTURES)
    router.put(url__startswith=ARM).respond(status, json=body, headers={"retry-after": "7"})
    with pytest.raises(expected) as info:
        _deploying(http).deploy(FT_MODEL)
    assert type(info.value) is expected  # PUT by name is idempotent: retrying it is safe
    assert info.value.code == body["error"]["code"] and ARM_TOKEN not in str(info.value)
    assert info.value.retry_after == 7


def test_deploy_without_its_settings_says_what_to_set_before_any_call(router: respx.MockRouter,
                                                                      http: httpx.Client) -> None:
    with pytest.raises(UnsupportedOperation, match=r"options\.azure\.subscription_id"):
        _provider(http).deploy(FT_MODEL)
    with pytest.raises(MissingCredential, match="AZURE_MANAGEMENT_TOKEN"):
        _provider(http, subscription_id="s", resource_group="r").deploy(FT_MODEL)
    with pytest.raises(UnsupportedOperation, match=r"options\.azure\.account"):
        _provider(http, endpoint="https://gateway.example.com", subscription_id="s", resource_group="r",
                  management_token_provider=lambda: "t").deploy(FT_MODEL)
    assert not router.calls


def test_check_says_whether_deployments_are_configured(router: respx.MockRouter, http: httpx.Client) -> None:
    _fake(router)
    assert all(ok for ok, _ in _provider(http).check())
    assert all(ok for ok, _ in _deploying(http).check())
    ok, message = _provider(http, subscription_id="sub-1").check()[-1]
    assert not ok and "options.azure.resource_group" in message and "AZURE_MANAGEMENT_TOKEN" in message
