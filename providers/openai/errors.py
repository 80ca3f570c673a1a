"""Translate openai SDK (and plain httpx) failures into tuneops's transient/permanent provider errors.

Rules, shared by every adapter of the OpenAI family (OpenAI, Azure OpenAI, the sandbox, Azure ARM):
429 is a refusal, so it is transient even on create (unless its code is ``insufficient_quota``: out of
credit, which no retry fixes, so permanent); 408/409/5xx, timeouts and broken connections are
transient, but on create they are ambiguous (the job may exist); any other 4xx is permanent. The
provider's own error code and message are kept; credential values are scrubbed from messages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from tuneops.errors import (
    AmbiguousCreate,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from tuneops.http import PERMANENT_429_CODES, out_of_quota
from tuneops.retry import retry_after_seconds

# Besides 429 and 5xx: request timeout and conflict are worth another try (the SDK retries them too).
_TRANSIENT_STATUS = frozenset({408, 409})



def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


def body_error(body: Any, fallback: str) -> tuple[str | None, str]:
    """(code, message) from an error body shaped ``{"error": {...}}`` or flat; code falls back to type."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            code = err.get("code") or err.get("type")
            return (str(code) if code is not None else None), str(err.get("message") or fallback)
        if isinstance(err, str):  # some gateways send {"error": "text"}
            return None, err
    return None, fallback


def status_error(status: int, code: str | None, message: str, *, provider: str, operation: str,
                 create: bool = False, retry_after: float | None = None) -> ProviderError:
    """The tuneops error for an HTTP error status answered to ``operation``."""
    kwargs: dict[str, Any] = dict(provider=provider, operation=operation, code=code, status=status,
                                  retry_after=retry_after)
    text = f"HTTP {status}: {message}"
    if status == 429 and code in PERMANENT_429_CODES:
        return out_of_quota(text, **kwargs)
    if status == 429:
        # A 429 is a refusal: nothing was created, so even a create may simply be tried again.
        return TransientProviderError(text, **kwargs)
    if status in _TRANSIENT_STATUS or status >= 500:
        return (AmbiguousCreate if create else TransientProviderError)(text, **kwargs)
    return PermanentProviderError(text, **kwargs)


def translate(exc: Exception, provider: str, operation: str, *, create: bool = False,
              secrets: Iterable[str] = ()) -> ProviderError:
    """The tuneops error for an SDK or transport exception raised by ``operation``."""
    import httpx
    import openai

    secrets = tuple(secrets)
    if isinstance(exc, openai.APIStatusError):
        code, message = body_error(exc.body, getattr(exc, "message", None) or str(exc))
        if code is None and exc.code:
            code = str(exc.code)
        return status_error(exc.status_code, code, redact(message, secrets), provider=provider,
                            operation=operation, create=create,
                            retry_after=retry_after_seconds(exc.response.headers))
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | httpx.TransportError):
        cls = AmbiguousCreate if create else TransientProviderError
        return cls(redact(f"{type(exc).__name__}: {exc}", secrets), provider=provider, operation=operation)
    if isinstance(exc, openai.OpenAIError):
        return PermanentProviderError(redact(str(exc), secrets), provider=provider, operation=operation)
    raise exc


@contextmanager
def translated(provider: str, operation: str, *, create: bool = False,
               secrets: Iterable[str] = ()) -> Iterator[None]:
    """Run a block of SDK calls, re-raising their failures as tuneops provider errors."""
    import httpx
    import openai

    try:
        yield
    except (openai.OpenAIError, httpx.TransportError) as exc:
        # Not chained: the SDK exception holds the request, whose headers carry the credential.
        raise translate(exc, provider, operation, create=create, secrets=secrets) from None


def call(provider: str, operation: str, fn: Callable[[], Any], *, create: bool = False,
         secrets: Iterable[str] = ()) -> Any:
    """Call ``fn`` with translated errors."""
    with translated(provider, operation, create=create, secrets=secrets):
        return fn()
