"""Access tokens for Google APIs: an explicit token from the environment, or Application Default
Credentials through google-auth (the optional ``vertex`` extra, imported only when needed).

Tokens are held only in memory by these objects and sent only in the Authorization header; they
are never logged, stored, or included in errors or reprs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

import httpx

from tuneops.errors import MissingCredential, ProviderUnavailable
from tuneops.provider import ProviderConfig
from tuneops.providers.vertex.capabilities import TOKEN_ENV

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
INSTALL = "pip install 'tuneops[vertex]'"


class TokenSource(Protocol):
    """Something that hands out a currently valid OAuth2 access token."""

    project: str | None

    def token(self) -> str:
        """A valid bearer token."""
        ...


class StaticToken:
    """A token given in the environment (CI, tests, `gcloud auth print-access-token`); never refreshed."""

    project: str | None = None

    def __init__(self, value: str):
        self._value = value

    def token(self) -> str:
        """The token as given."""
        return self._value

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"


class _HttpxRequest:
    """google-auth's transport interface over httpx, so refreshing needs no `requests` package."""

    def __init__(self, client: httpx.Client):
        self._client = client

    def __call__(self, url: str, method: str = "GET", body: Any = None,
                 headers: Mapping[str, str] | None = None, timeout: float | None = None,
                 **kwargs: Any) -> Any:
        from google.auth import exceptions, transport

        try:
            resp = self._client.request(method, url, content=body, headers=dict(headers or {}),
                                        timeout=timeout or 30.0)
        except httpx.HTTPError as exc:
            raise exceptions.TransportError(f"{type(exc).__name__} while refreshing credentials") from None

        return _response_type(transport.Response)(resp)


def _response_type(base: type) -> type:
    """google-auth's abstract Response, implemented over an httpx response."""

    class _Response(base):  # type: ignore[misc,valid-type]
        def __init__(self, resp: httpx.Response):
            self._resp = resp

        @property
        def status(self) -> int:
            return self._resp.status_code

        @property
        def headers(self) -> dict[str, str]:
            return dict(self._resp.headers)

        @property
        def data(self) -> bytes:
            return self._resp.content

    return _Response


class ADCToken:
    """Application Default Credentials (google-auth), refreshed when they expire."""

    def __init__(self, credentials: Any, project: str | None, http: httpx.Client):
        self._credentials = credentials
        self.project = project
        self._http = http
        self._lock = threading.Lock()

    def token(self) -> str:
        """A valid token, refreshing the credentials first if needed."""
        with self._lock:
            if not self._credentials.valid:
                self._credentials.refresh(_HttpxRequest(self._http))
            return str(self._credentials.token)

    def __repr__(self) -> str:
        return "ADCToken(<redacted>)"


def token_source(config: ProviderConfig, provider: str, http: httpx.Client) -> TokenSource:
    """The token source ``config.env`` allows; raises MissingCredential or ProviderUnavailable at once."""
    explicit = config.env.get(TOKEN_ENV)
    if explicit:
        return StaticToken(explicit)
    try:
        import google.auth
        import google.auth.exceptions
    except ImportError:
        raise ProviderUnavailable(
            f"provider {provider!r} needs google-auth for Application Default Credentials: "
            f"run `{INSTALL}`, or set {TOKEN_ENV} to an access token "
            "(e.g. from `gcloud auth print-access-token`)") from None
    key_file = config.env.get("GOOGLE_APPLICATION_CREDENTIALS")
    try:
        if key_file:
            credentials, project = google.auth.load_credentials_from_file(key_file, scopes=list(SCOPES))
        else:
            credentials, project = google.auth.default(scopes=list(SCOPES))
    except google.auth.exceptions.DefaultCredentialsError:
        # The library's message may quote file paths; ours names the variables to set instead.
        raise MissingCredential(
            provider, [TOKEN_ENV, "GOOGLE_APPLICATION_CREDENTIALS"],
            "Or run `gcloud auth application-default login`.") from None
    return ADCToken(credentials, project, http)
