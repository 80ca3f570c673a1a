"""Translate botocore failures into tuneops provider errors (botocore is imported only when one occurs)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tuneops.errors import (
    AmbiguousCreate,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
    TuneopsError,
)
from tuneops.retry import retry_after_seconds

# Refusals: the request was rejected before doing anything, so even a create may be retried.
THROTTLING = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                        "RequestLimitExceeded", "SlowDown", "ServiceQuotaExceededException"})
# Conflicts the service reports when a create with our deterministic name or token already ran.
NAME_TAKEN = frozenset({"ResourceInUseException", "ConflictException"})
_MAYBE_APPLIED = frozenset({408, 409})


class MissingOption(TuneopsError):
    """A setting the provider needs is missing from the job spec's options table."""

    exit_code = 2



def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a ClientError (e.g. ``ThrottlingException``), else None."""
    response = getattr(exc, "response", None)
    return (response or {}).get("Error", {}).get("Code") if isinstance(response, dict) else None


def translate(exc: Exception, provider: str, operation: str, *, create: bool = False) -> ProviderError:
    """The tuneops error for a botocore exception raised by ``operation``."""
    from botocore import exceptions as bx

    if isinstance(exc, bx.ClientError):
        err = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        code = err.get("Code")
        status = meta.get("HTTPStatusCode")
        message = err.get("Message") or str(exc)
        kwargs: dict[str, Any] = dict(provider=provider, operation=operation, code=code, status=status,
                                      retry_after=retry_after_seconds(meta.get("HTTPHeaders")))
        text = f"HTTP {status}: {message}"
        if status == 429 or code in THROTTLING:
            if code == "ServiceQuotaExceededException":
                # A quota is not lifted by waiting a few seconds: stop and tell the user.
                return PermanentProviderError(text, **kwargs)
            return TransientProviderError(text, **kwargs)
        if status in _MAYBE_APPLIED or (status or 0) >= 500:
            return (AmbiguousCreate if create else TransientProviderError)(text, **kwargs)
        return PermanentProviderError(text, **kwargs)
    transient = (bx.ConnectionError, bx.HTTPClientError, bx.ReadTimeoutError, bx.ConnectTimeoutError)
    if isinstance(exc, transient):
        cls = AmbiguousCreate if create else TransientProviderError
        return cls(f"{type(exc).__name__}: {exc}", provider=provider, operation=operation)
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return PermanentProviderError("AWS credentials are missing or incomplete: set AWS_ACCESS_KEY_ID and "
                                      "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE", provider=provider,
                                      operation=operation)
    if isinstance(exc, bx.BotoCoreError):
        return PermanentProviderError(f"{type(exc).__name__}: {exc}", provider=provider, operation=operation)
    raise exc


@contextmanager
def translated(provider: str, operation: str, *, create: bool = False) -> Iterator[None]:
    """Run botocore calls, re-raising their failures as tuneops provider errors."""
    from botocore import exceptions as bx

    try:
        yield
    except (bx.ClientError, bx.BotoCoreError) as exc:
        raise translate(exc, provider, operation, create=create) from exc


def call(provider: str, operation: str, fn: Callable[[], Any], *, create: bool = False) -> Any:
    """Call ``fn`` with translated errors."""
    with translated(provider, operation, create=create):
        return fn()
