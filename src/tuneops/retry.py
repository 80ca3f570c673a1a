"""The one retry policy for reads, uploads and polls: transient errors only, Retry-After honoured up
to a cap, exponential backoff with jitter, bounded attempts and total time.

Creates are never retried through this policy after an ambiguous failure (see orchestrator)."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from tuneops.errors import AmbiguousCreate, PermanentProviderError, TransientProviderError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, total time, backoff base and cap, and the Retry-After ceiling."""

    attempts: int = 6
    total_seconds: float = 300.0
    base_seconds: float = 0.5
    max_backoff_seconds: float = 30.0
    retry_after_cap_seconds: float = 120.0


DEFAULT_POLICY = RetryPolicy()


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), if given.

    Header names are matched case-insensitively, for plain dicts (botocore) as for httpx headers.
    """
    if not headers:
        return None
    lowered = {str(k).lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _wait_seconds(policy: RetryPolicy, attempt: int, exc: TransientProviderError) -> float:
    if exc.retry_after is not None:
        return max(0.0, exc.retry_after)
    backoff = min(policy.max_backoff_seconds, policy.base_seconds * (2 ** (attempt - 1)))
    return random.uniform(backoff / 2, backoff)  # "equal jitter": spread, but never near zero


def call_with_retry(fn: Callable[[], T], *, policy: RetryPolicy = DEFAULT_POLICY,
                    on_retry: Callable[[int, float, TransientProviderError], Any] | None = None,
                    retry_ambiguous: bool = False, sleep: Callable[[float], Any] = time.sleep) -> T:
    """Call ``fn``; retry transient failures per ``policy``; re-raise anything else at once.

    A Retry-After beyond the policy's cap fails the call with a clear message instead of blocking.
    """
    import tenacity

    start = time.monotonic()

    def should_retry(state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        if not isinstance(exc, TransientProviderError):
            return False
        # An ambiguous create may have taken effect: only reconciliation may decide to try again.
        return retry_ambiguous or not isinstance(exc, AmbiguousCreate)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception()  # type: ignore[union-attr]
        assert isinstance(exc, TransientProviderError)
        delay = _wait_seconds(policy, state.attempt_number, exc)
        if exc.retry_after is not None and exc.retry_after > policy.retry_after_cap_seconds:
            raise PermanentProviderError(
                f"asked to wait {exc.retry_after:.0f}s (Retry-After), more than the "
                f"{policy.retry_after_cap_seconds:.0f}s cap; try again later",
                provider=exc.provider, operation=exc.operation, code=exc.code, status=exc.status,
            ) from exc
        if time.monotonic() - start + delay > policy.total_seconds:
            raise exc
        if on_retry is not None:
            on_retry(state.attempt_number, delay, exc)
        return delay

    retrying = tenacity.Retrying(
        retry=should_retry,
        wait=wait,
        stop=tenacity.stop_after_attempt(policy.attempts),
        sleep=sleep,
        reraise=True,
    )
    return retrying(fn)
