"""Shared plumbing for the plain-httpx provider adapters (Together, Fireworks, Mistral).

One ``JSONClient`` per adapter: base URL, bearer auth added per request (never stored on a shared
``httpx.Client``), no retries of its own, and every failure translated into the tuneops error tree
with the provider's own code and message kept and every known secret scrubbed from it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from tuneops.errors import (
    AmbiguousCreate,
    PermanentProviderError,
    ProviderError,
    TransientProviderError,
)
from tuneops.retry import retry_after_seconds

# Statuses that say "try again later" without saying the request was rejected for good.
TRANSIENT_STATUS = frozenset({408, 409, 425, 429})
# A 429 with one of these codes will not pass by waiting: the account is out of credit or quota.
PERMANENT_429_CODES = frozenset({"insufficient_quota"})
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
UPLOAD_TIMEOUT = httpx.Timeout(600.0, connect=30.0)
REDACTED = "<redacted>"



def error_details(response: httpx.Response) -> tuple[str | None, str]:
    """The provider's own (code, message) from an error response, whatever its shape."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip()
        return None, text[:500] or response.reason_phrase or f"HTTP {response.status_code}"
    err: Any = body
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        err = body["error"]
    if not isinstance(err, Mapping):
        return None, str(body)[:500]
    code = err.get("status") or err.get("code") or err.get("type")
    message = err.get("message") or err.get("detail") or err.get("msg")
    if isinstance(body, Mapping) and isinstance(body.get("error"), str):
        message = message or body["error"]
    if message is None:
        message = str(dict(err))[:500]
    elif not isinstance(message, str):
        message = str(message)[:500]  # FastAPI-style 422: a list of field problems
    return (str(code) if code is not None else None), message


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced, so a provider echoing a request can't leak a key."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return text


_SECRET_FIELD = re.compile(r"(api[_-]?key|apikey|secret|token$|password|wandb_key)", re.I)


def clean_raw(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A provider's JSON with secret-looking fields and known secret values removed, safe to store."""
    secrets = tuple(secrets)
    if isinstance(obj, Mapping):
        return {k: (REDACTED if _SECRET_FIELD.search(str(k)) and isinstance(v, str) and v
                    else clean_raw(v, secrets)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clean_raw(v, secrets) for v in obj]
    if isinstance(obj, str):
        return scrub(obj, secrets)
    return obj


def translate_response(response: httpx.Response, provider: str, operation: str, *, create: bool = False,
                       secrets: Iterable[str] = ()) -> ProviderError:
    """The tuneops error for a non-2xx response to ``operation``."""
    status = response.status_code
    code, message = error_details(response)
    message = scrub(message, secrets)
    kwargs: dict[str, Any] = dict(provider=provider, operation=operation, code=code, status=status,
                                  retry_after=retry_after_seconds(response.headers))
    text = f"HTTP {status}: {message}"
    if status == 429 and code in PERMANENT_429_CODES:
        return out_of_quota(text, **kwargs)
    if status == 429:
        # A rate limit is a refusal: nothing was created, so even a create may simply be retried.
        return TransientProviderError(text, **kwargs)
    if status in TRANSIENT_STATUS or status >= 500:
        return (AmbiguousCreate if create else TransientProviderError)(text, **kwargs)
    return PermanentProviderError(text, **kwargs)


def out_of_quota(text: str, **kwargs: Any) -> PermanentProviderError:
    """The error for a 429 that says the account is out of credit or quota: permanent, with what to do."""
    return PermanentProviderError(f"{text} (out of quota or credit: retrying cannot help; add credit or quota "
                                  "at the provider, then submit again)", **kwargs)


def translate_transport(exc: httpx.TransportError, provider: str, operation: str, *,
                        create: bool = False) -> ProviderError:
    """The tuneops error for a timeout or connection failure during ``operation``."""
    # A failed connect means no byte of the request left this machine: nothing can have been
    # created. Any later failure (read timeout, reset) leaves a create's outcome unknown.
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
    cls = AmbiguousCreate if create and not never_sent else TransientProviderError
    return cls(f"{type(exc).__name__}: {exc}", provider=provider, operation=operation)


def key_token(key: str, length: int = 12) -> str:
    """A short, stable, provider-safe token derived from an idempotency key (lowercase hex)."""
    return "tk" + hashlib.sha256(key.encode()).hexdigest()[: max(4, length - 2)]


_ID_UNSAFE = re.compile(r"[^a-z0-9-]+")


def resource_id(key: str, max_length: int = 63) -> str:
    """An AIP-122 style resource id (``[a-z][a-z0-9-]*``) derived from ``key``, stable and unique."""
    base = _ID_UNSAFE.sub("-", key.lower()).strip("-") or "job"
    if not base[0].isalpha():
        base = "t-" + base
    if len(base) > max_length:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        base = base[: max_length - 13].rstrip("-") + "-" + digest
    return base


class JSONClient:
    """A provider's HTTP API: base URL, bearer auth per request, translated errors, no retries."""

    def __init__(self, provider: str, base_url: str, api_key: str, *, http_client: httpx.Client | None = None,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT, secrets: Iterable[str] = ()):
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.secrets = tuple(s for s in (api_key, *secrets) if s)
        self._owns_http = http_client is None
        self.http = http_client or httpx.Client(timeout=timeout)

    def __repr__(self) -> str:
        return f"JSONClient({self.provider!r}, {self.base_url!r})"  # never the key

    def url(self, path: str) -> str:
        """An absolute URL for ``path`` (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, *, operation: str, create: bool = False, auth: bool = True,
                ok: Iterable[int] = (), **kwargs: Any) -> httpx.Response:
        """Send one request; 2xx (and any status in ``ok``) returns, anything else raises translated."""
        headers = dict(kwargs.pop("headers", None) or {})
        if auth:
            headers["Authorization"] = f"Bearer {self._api_key}"
        headers.setdefault("Accept", "application/json")
        try:
            response = self.http.request(method, self.url(path), headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise translate_transport(exc, self.provider, operation, create=create) from None
        if response.is_success or response.status_code in set(ok):
            return response
        raise translate_response(response, self.provider, operation, create=create, secrets=self.secrets)

    def json(self, method: str, path: str, *, operation: str, **kwargs: Any) -> Any:
        """Send one request and decode its JSON body (a non-JSON 2xx body is a permanent error)."""
        response = self.request(method, path, operation=operation, **kwargs)
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise PermanentProviderError(
                f"expected JSON, got {response.headers.get('content-type', 'no content type')}",
                provider=self.provider, operation=operation, status=response.status_code) from None

    def get(self, path: str, *, operation: str, **kwargs: Any) -> Any:
        """GET ``path`` as JSON."""
        return self.json("GET", path, operation=operation, **kwargs)

    def post(self, path: str, *, operation: str, **kwargs: Any) -> Any:
        """POST to ``path``, returning JSON."""
        return self.json("POST", path, operation=operation, **kwargs)

    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            self.http.close()


def chat_completion(client: JSONClient, path: str, model: str, messages: list[Mapping[str, Any]],
                    params: Mapping[str, Any]) -> tuple[str, int, int, Any]:
    """One OpenAI-compatible chat completion: (text, prompt tokens, completion tokens, raw)."""
    body = {"model": model, "messages": [dict(m) for m in messages], **params}
    data = client.post(path, operation="infer", json=body)
    choices = data.get("choices") or [{}]
    message = choices[0].get("message") or {}
    content = message.get("content")
    if isinstance(content, list):  # some providers return content parts
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    usage = data.get("usage") or {}
    return (content or "", int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0),
            data)


def check_call(client: JSONClient, path: str, what: str) -> list[tuple[bool, str]]:
    """Run one cheap authenticated GET and describe the outcome for `tuneops providers check`."""
    try:
        client.get(path, operation="check")
    except ProviderError as exc:
        hint = " (check the API key)" if exc.status in (401, 403) else ""
        return [(False, f"{what}: {exc}{hint}")]
    return [(True, f"{what}: authenticated call succeeded")]


def verify_file(client: JSONClient, upload: Any, path: str) -> bool:
    """``GET path`` (a file record with ``bytes`` and ``filename``): does it still match ``upload``?"""
    from tuneops.provider import same_file

    response = client.request("GET", path, operation="verify", ok=(404,))
    if response.status_code == 404:
        return False
    obj = response.json()
    return same_file(upload, obj.get("bytes"), obj.get("filename"))


def find_files(client: JSONClient, sha256: str, size: int, names: Iterable[str], path: str = "files") -> list[Any]:
    """Files listed at ``path`` with one of ``names`` and ``size`` bytes, newest first, as Uploads."""
    from tuneops.provider import Upload

    data = client.get(path, operation="verify")
    items = data.get("data", []) if isinstance(data, dict) else data
    wanted = set(names)
    found = [f for f in items or [] if f.get("filename") in wanted and f.get("bytes") is not None
             and int(f["bytes"]) == size]
    found.sort(key=lambda f: f.get("created_at") or 0, reverse=True)
    return [Upload(client.provider, sha256, str(f["id"]), int(f["bytes"]), str(f["filename"])) for f in found]
