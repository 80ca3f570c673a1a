"""Retries: transient failures are retried after the provider's Retry-After, never sooner, within
bounds; permanent failures and over-long waits fail at once with a clear message."""

from __future__ import annotations

import time

import httpx
import pytest

from tuneops.errors import AmbiguousCreate, PermanentProviderError, TransientProviderError
from tuneops.retry import RetryPolicy, call_with_retry


def _flaky(failures: list[Exception]):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return "ok"

    return fn, calls


def test_retry_after_is_waited_exactly_before_the_next_attempt() -> None:
    waits: list[float] = []
    fn, calls = _flaky([TransientProviderError("429", status=429, retry_after=7.0)])
    assert call_with_retry(fn, sleep=waits.append) == "ok"
    assert waits == [7.0] and calls["n"] == 2


def test_a_retry_after_beyond_the_cap_fails_with_a_clear_message_instead_of_blocking() -> None:
    waits: list[float] = []
    fn, _ = _flaky([TransientProviderError("429", provider="openai", operation="get", retry_after=3600)])
    with pytest.raises(PermanentProviderError, match=r"Retry-After.*cap"):
        call_with_retry(fn, policy=RetryPolicy(retry_after_cap_seconds=120), sleep=waits.append)
    assert waits == []


def test_backoff_grows_with_jitter_and_attempts_are_bounded() -> None:
    waits: list[float] = []
    fn, calls = _flaky([TransientProviderError("503", status=503) for _ in range(10)])
    with pytest.raises(TransientProviderError):
        call_with_retry(fn, policy=RetryPolicy(attempts=4, base_seconds=1, max_backoff_seconds=30),
                        sleep=waits.append)
    assert calls["n"] == 4 and len(waits) == 3
    for i, w in enumerate(waits):
        assert 2 ** i / 2 <= w <= 2 ** i


def test_permanent_errors_and_ambiguous_creates_are_not_retried() -> None:
    for exc in (PermanentProviderError("400"), AmbiguousCreate("500 on create")):
        fn, calls = _flaky([exc])
        with pytest.raises(type(exc)):
            call_with_retry(fn, sleep=lambda _: None)
        assert calls["n"] == 1


def test_a_real_429_from_the_sandbox_is_retried_after_its_retry_after(sandbox: object) -> None:
    from tuneops.provider import ProviderConfig
    from tuneops.providers.openai import SandboxProvider
    from tuneops.providers.openai.errors import call

    httpx.post(f"{sandbox.admin_url}/faults", json={"rate_429": 1.0, "retry_after": 1.0,  # type: ignore
                                                     "max_faults": 1, "routes": ["GET /v1/models"]})
    provider = SandboxProvider(ProviderConfig(env={"TUNEOPS_SANDBOX_URL": sandbox.url}))  # type: ignore
    try:
        start = time.monotonic()
        call_with_retry(lambda: call("sandbox", "models", provider.client.models.list))
        assert time.monotonic() - start >= 1.0
    finally:
        provider.close()
        httpx.post(f"{sandbox.admin_url}/faults", json={})  # type: ignore[attr-defined]
