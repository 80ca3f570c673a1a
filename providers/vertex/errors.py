"""Translate Google API HTTP failures (google.rpc.Status bodies) into tuneops provider errors."""

from __future__ import annotations

from typing import Any

import httpx

from tuneops.errors import (
    AmbiguousCreate,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
    TuneopsError,
)
from tuneops.retry import retry_after_seconds

# 408/409 and 5xx may have been applied by the server before the failure reached us.
_MAYBE_APPLIED = frozenset({408, 409})


class MissingOption(TuneopsError):
    """A setting the provider needs is missing from the job spec's options table."""

    exit_code = 2



def _body_error(response: httpx.Response) -> tuple[str | None, str]:
    """(code, message) from a google.rpc.Status body (Vertex) or a JSON API error body (GCS)."""
    try:
        body = response.json()
    except ValueError:
        return None, (response.text or response.reason_phrase or "no response body")[:500]
    err = body.get("error") if isinstance(body, dict) else None
    if not isinstance(err, dict):
        return None, str(body)[:500]
    code = err.get("status")
    if not code and isinstance(err.get("errors"), list) and err["errors"]:
        first = err["errors"][0]
        code = first.get("reason") if isinstance(first, dict) else None
    return code, str(err.get("message") or response.reason_phrase)


def from_response(response: httpx.Response, provider: str, operation: str, *,
                  create: bool = False) -> ProviderError:
    """The tuneops error for a non-2xx response to ``operation``."""
    status = response.status_code
    code, message = _body_error(response)
    kwargs: dict[str, Any] = dict(provider=provider, operation=operation, code=code, status=status,
                                  retry_after=retry_after_seconds(response.headers))
    text = f"HTTP {status}: {message}"
    if status == 429:
        # RESOURCE_EXHAUSTED is a refusal (quota/capacity): nothing was created, so it is retryable.
        return TransientProviderError(text, **kwargs)
    if status in _MAYBE_APPLIED or status >= 500:
        cls = AmbiguousCreate if create else TransientProviderError
        return cls(text, **kwargs)
    return PermanentProviderError(text, **kwargs)


def from_transport(exc: httpx.TransportError, provider: str, operation: str, *,
                   create: bool = False) -> ProviderError:
    """The tuneops error for a timeout or connection failure (the request may have arrived)."""
    cls = AmbiguousCreate if create else TransientProviderError
    # The exception text names the URL at most; credentials travel in headers and never appear here.
    return cls(f"{type(exc).__name__}: {exc}", provider=provider, operation=operation)
