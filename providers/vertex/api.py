"""The Vertex AI and Cloud Storage REST endpoints tuneops calls, over one httpx client.

No retries here: the orchestrator retries reads and uploads through one policy and never retries a
create blindly. Each request gets the bearer token in its own headers, so a shared, injected
client is never mutated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from tuneops.errors import AmbiguousCreate, PermanentProviderError
from tuneops.providers.vertex.auth import TokenSource
from tuneops.providers.vertex.errors import from_response, from_transport

STORAGE_URL = "https://storage.googleapis.com"


class VertexAPI:
    """Builds URLs for one project and region and sends authenticated requests with translated errors."""

    def __init__(self, http: httpx.Client, tokens: TokenSource, *, provider: str, project: str,
                 region: str, api_version: str = "v1", base_url: str | None = None,
                 storage_url: str | None = None):
        self.http = http
        self.tokens = tokens
        self.provider = provider
        self.project = project
        self.region = region
        self.api_version = api_version
        # The global location has no regional host; every other region has its own.
        host = ("https://aiplatform.googleapis.com" if region == "global"
                else f"https://{region}-aiplatform.googleapis.com")
        self.base_url = (base_url or host).rstrip("/")
        self.storage_url = (storage_url or STORAGE_URL).rstrip("/")

    @property
    def parent(self) -> str:
        """The location resource that owns tuning jobs."""
        return f"projects/{self.project}/locations/{self.region}"

    def url(self, resource: str, version: str | None = None) -> str:
        """The Vertex URL of a resource path such as ``projects/p/locations/l/tuningJobs`` (``version``:
        another REST version than the adapter's, e.g. v1beta1 for one call)."""
        return f"{self.base_url}/{version or self.api_version}/{resource.lstrip('/')}"

    def object_url(self, bucket: str, name: str) -> str:
        """The Cloud Storage JSON API URL of one object's metadata."""
        return f"{self.storage_url}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}"

    def upload_url(self, bucket: str) -> str:
        """The Cloud Storage JSON API media-upload URL of a bucket."""
        return f"{self.storage_url}/upload/storage/v1/b/{quote(bucket, safe='')}/o"

    def send(self, method: str, url: str, *, operation: str, create: bool = False,
             ok: tuple[int, ...] = (200,), params: Mapping[str, Any] | None = None,
             json: Any = None, content: Any = None, headers: Mapping[str, str] | None = None,
             timeout: float | None = None) -> httpx.Response:
        """Send one request; a status outside ``ok`` raises a translated provider error."""
        all_headers = {"Authorization": f"Bearer {self.tokens.token()}", **(headers or {})}
        kwargs: dict[str, Any] = {}
        if timeout is not None:
            kwargs["timeout"] = timeout
        try:
            response = self.http.request(method, url, params=params, json=json, content=content,
                                         headers=all_headers, **kwargs)
        except httpx.TransportError as exc:
            raise from_transport(exc, self.provider, operation, create=create) from None
        if response.status_code not in ok:
            raise from_response(response, self.provider, operation, create=create)
        return response

    def json(self, method: str, url: str, *, operation: str, create: bool = False,
             params: Mapping[str, Any] | None = None, body: Any = None) -> dict[str, Any]:
        """Send one request and return its JSON object (an empty body is ``{}``)."""
        response = self.send(method, url, operation=operation, create=create, params=params, json=body)
        if not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            # A created job we cannot read is still a created job: let reconciliation find it.
            cls = AmbiguousCreate if create else PermanentProviderError
            raise cls(f"expected JSON, got {response.headers.get('content-type')}",
                      provider=self.provider, operation=operation, status=response.status_code) from None
        return data if isinstance(data, dict) else {"value": data}
