"""tuneops.http: the plumbing the plain-httpx adapters share (errors, Retry-After, ids, secrets)."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from tuneops.errors import AmbiguousCreate, PermanentProviderError, TransientProviderError
from tuneops.http import (
    REDACTED,
    JSONClient,
    clean_raw,
    error_details,
    key_token,
    resource_id,
    retry_after_seconds,
    translate_response,
    translate_transport,
)


def test_retry_after_reads_milliseconds_seconds_and_http_dates():
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(httpx.Headers({"retry-after": "3"})) == 3.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 < retry_after_seconds(httpx.Headers({"retry-after": later})) <= 30
    assert retry_after_seconds(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after_seconds(httpx.Headers({})) is None


@pytest.mark.parametrize("body,expected", [
    ({"error": {"message": "bad", "code": "invalid_value"}}, ("invalid_value", "bad")),
    ({"error": {"code": 409, "message": "exists", "status": "ALREADY_EXISTS"}}, ("ALREADY_EXISTS", "exists")),
    ({"object": "error", "message": "no", "type": "invalid_request_error"}, ("invalid_request_error", "no")),
    ({"detail": [{"msg": "epochs must be positive"}]}, (None, "[{'msg': 'epochs must be positive'}]")),
])
def test_error_details_keep_the_providers_code_and_message(body, expected):
    assert error_details(httpx.Response(400, json=body)) == expected


@pytest.mark.parametrize("status,create,cls", [
    (429, True, TransientProviderError), (408, False, TransientProviderError), (503, False, TransientProviderError),
    (503, True, AmbiguousCreate), (409, True, AmbiguousCreate), (400, True, PermanentProviderError),
    (401, False, PermanentProviderError), (404, False, PermanentProviderError),
])
def test_statuses_translate_to_the_error_tree(status, create, cls):
    err = translate_response(httpx.Response(status, json={}), "p", "op", create=create)
    assert type(err) is cls and err.status == status


def test_a_rate_limited_create_is_not_ambiguous():
    assert not isinstance(translate_response(httpx.Response(429), "p", "create", create=True), AmbiguousCreate)


def test_transport_failures_on_create_are_ambiguous_unless_nothing_was_sent():
    assert isinstance(translate_transport(httpx.ReadTimeout("t"), "p", "create", create=True), AmbiguousCreate)
    refused = translate_transport(httpx.ConnectError("refused"), "p", "create", create=True)
    assert type(refused) is TransientProviderError


def test_key_tokens_and_resource_ids_are_stable_and_safe():
    assert key_token("tuneops-run_a") == key_token("tuneops-run_a") != key_token("tuneops-run_b")
    assert len(key_token("x", 10)) == 10 and key_token("x").startswith("tk")
    assert resource_id("tuneops-run_01JQ8abc") == "tuneops-run-01jq8abc"
    assert resource_id("9 lives") == "t-9-lives"
    long = resource_id("k" * 100)
    assert len(long) <= 63 and long != resource_id("k" * 99)


def test_secrets_are_scrubbed_from_errors_and_stored_json():
    err = translate_response(httpx.Response(400, json={"error": {"message": "bad key sk-secret-123"}}), "p", "op",
                             secrets=["sk-secret-123"])
    assert "sk-secret-123" not in str(err) and REDACTED in str(err)
    raw = clean_raw({"wandb_key": "abc", "nested": [{"apiKey": "x"}], "note": "used sk-secret-123",
                     "token_count": 5}, ["sk-secret-123"])
    assert raw == {"wandb_key": REDACTED, "nested": [{"apiKey": REDACTED}], "note": f"used {REDACTED}",
                   "token_count": 5}


def test_the_client_adds_auth_per_request_and_never_shows_the_key():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={"ok": True})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        api = JSONClient("p", "https://api.example.test/v1", "sk-abcdef", http_client=http)
        assert api.get("things", operation="list") == {"ok": True}
        api.request("PUT", "https://bucket.example.test/x", operation="upload", auth=False, content=b"1")
        assert "sk-abcdef" not in repr(api)
        assert "authorization" not in http.headers
    assert seen == ["Bearer sk-abcdef", None]


def test_a_429_for_insufficient_quota_is_permanent_and_says_what_to_do() -> None:
    body = {"error": {"code": "insufficient_quota", "message": "You exceeded your current quota"}}
    for create in (False, True):
        exc = translate_response(httpx.Response(429, json=body), "together", "create" if create else "get",
                                 create=create)
        assert type(exc) is PermanentProviderError and exc.code == "insufficient_quota"
        assert "exceeded your current quota" in str(exc) and "add credit or quota" in str(exc)
    limited = {"error": {"code": "rate_limit_exceeded", "message": "slow down"}}
    assert type(translate_response(httpx.Response(429, json=limited), "p", "get")) is TransientProviderError
