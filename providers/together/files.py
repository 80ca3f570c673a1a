"""Together's file upload: register, PUT to a presigned URL, preprocess, wait for validation.

The flow (together 3.1.1 ``together/lib/resources/files.py``): ``POST /files`` as a multipart form
of metadata only answers **302** with the presigned ``Location`` and ``X-Together-File-Id`` (or
**409** with the ``file_id`` when a file with the same checksum exists); the bytes go to the
presigned URL with a plain ``PUT`` (no Together credentials); ``POST /files/{id}/preprocess``
starts validation, whose progress is the file's ``processing_status``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuneops import progress
from tuneops.errors import PermanentProviderError, TransientProviderError, UnsupportedOperation
from tuneops.http import UPLOAD_TIMEOUT, JSONClient
from tuneops.provider import Upload
from tuneops.providers.together.capabilities import SINGLE_PUT_MAX_BYTES
from tuneops.providers.together.status import FILE_FAILED, FILE_PROCESSING


def _register(api: JSONClient, path: Path, sha256: str, purpose: str) -> tuple[str, str | None]:
    """Announce the file; returns (file id, presigned URL or None when the file already exists)."""
    form = {"purpose": purpose, "file_name": path.name, "file_type": "jsonl", "checksum": sha256}
    # (None, value) parts make httpx send a multipart form without a file part, as the SDK does.
    response = api.request("POST", "files", operation="upload", ok=(302, 409), follow_redirects=False,
                           files={k: (None, v) for k, v in form.items()})
    if response.status_code == 409:
        try:
            file_id = response.json().get("file_id")
        except ValueError:
            file_id = None
        if not file_id:
            raise PermanentProviderError("HTTP 409 without a file_id", provider=api.provider,
                                         operation="upload", status=409)
        return str(file_id), None
    location = response.headers.get("location")
    file_id = response.headers.get("x-together-file-id")
    if response.status_code != 302 or not location or not file_id:
        raise TransientProviderError(
            f"HTTP {response.status_code}: expected a 302 with Location and X-Together-File-Id",
            provider=api.provider, operation="upload", status=response.status_code)
    return file_id, location


def _put(api: JSONClient, url: str, path: Path) -> None:
    """Send the bytes to the presigned URL; storage credentials are in the URL, ours stay home."""
    with progress.open_upload(path, to=api.provider) as fh:
        api.request("PUT", url, operation="upload", auth=False, content=fh,
                    headers={"Content-Length": str(path.stat().st_size)}, timeout=UPLOAD_TIMEOUT)


def wait_processed(api: JSONClient, file_id: str, *, wait_seconds: float, poll_seconds: float,
                   sleep: Callable[[float], Any] = time.sleep) -> dict[str, Any]:
    """Poll the file until validation finished; a rejected file is a permanent error."""
    deadline = time.monotonic() + wait_seconds
    while True:
        obj = api.get(f"files/{file_id}", operation="upload")
        status = obj.get("processing_status")
        if status in FILE_FAILED:
            report = obj.get("validation_report") or {}
            raise PermanentProviderError(
                f"file {file_id} failed validation ({status}): {report.get('error') or 'no details'}",
                provider=api.provider, operation="upload", code=report.get("error_type") or status)
        if status not in FILE_PROCESSING:
            return obj
        if time.monotonic() + poll_seconds > deadline:
            # Transient: the retry policy uploads again, which finds the file by checksum (409).
            raise TransientProviderError(f"file {file_id} is still being validated ({status})",
                                         provider=api.provider, operation="upload")
        sleep(poll_seconds)


def upload_file(api: JSONClient, path: Path, sha256: str, purpose: str, *, wait_seconds: float = 600.0,
                poll_seconds: float = 2.0, sleep: Callable[[float], Any] = time.sleep) -> Upload:
    """Upload ``path`` (content-addressed by ``sha256``) and wait until Together accepted it."""
    size = path.stat().st_size
    if size > SINGLE_PUT_MAX_BYTES:
        raise UnsupportedOperation(
            f"together: {path.name} is {size / 2**30:.1f} GiB; files over 5 GiB need Together's "
            "multipart upload, which tuneops does not support yet; split the dataset")
    file_id, url = _register(api, path, sha256, purpose)
    if url is not None:
        _put(api, url, path)
        api.post(f"files/{file_id}/preprocess", operation="upload")
    obj = wait_processed(api, file_id, wait_seconds=wait_seconds, poll_seconds=poll_seconds, sleep=sleep)
    return Upload("together", sha256, file_id, int(obj.get("bytes") or size),
                  str(obj.get("filename") or path.name))
