"""Fireworks datasets: create one per content hash, upload, validate, wait until READY.

Flow (fireworks-ai 1.2.28 ``resources/datasets.py`` and ``lib/dataset_upload.py``): ``POST
datasets`` with a client-chosen ``datasetId``; files up to 150 MB go in one multipart ``:upload``;
larger files get a signed URL from ``:getUploadEndpoint``, are ``PUT`` there without Fireworks
credentials (both headers below are part of the signature), then ``:validateUpload``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tuneops import progress
from tuneops.errors import PermanentProviderError, TransientProviderError
from tuneops.http import UPLOAD_TIMEOUT, JSONClient, resource_id
from tuneops.provider import Upload
from tuneops.providers.fireworks.status import DATASET_READY

DIRECT_UPLOAD_MAX_BYTES = 150 * 1024 * 1024  # ":upload ... can handle file sizes up to 150Mb"


def dataset_id_for(sha256: str) -> str:
    """The dataset id for a content hash: the same bytes always map to the same dataset."""
    return resource_id(f"tuneops-{sha256[:40]}")


def _create(api: JSONClient, dataset_id: str, path: Path) -> dict[str, Any] | None:
    """Create the dataset record; None when it already exists (an earlier upload of the same bytes)."""
    with path.open("rb") as fh:
        examples = sum(1 for line in fh if line.strip())
    body = {"datasetId": dataset_id,
            "dataset": {"displayName": dataset_id, "exampleCount": str(examples), "userUploaded": {}}}
    response = api.request("POST", "datasets", operation="upload", ok=(409,), json=body)
    return None if response.status_code == 409 else response.json()


def _upload_small(api: JSONClient, dataset_id: str, path: Path) -> None:
    with progress.open_upload(path, to=api.provider) as fh:
        api.request("POST", f"datasets/{dataset_id}:upload", operation="upload",
                    files={"file": (path.name, fh, "application/jsonl")}, timeout=UPLOAD_TIMEOUT)


def _upload_signed(api: JSONClient, dataset_id: str, path: Path) -> None:
    size = str(path.stat().st_size)
    data = api.post(f"datasets/{dataset_id}:getUploadEndpoint", operation="upload",
                    json={"filenameToSize": {path.name: size}})
    url = (data.get("filenameToSignedUrls") or {}).get(path.name)
    if not url:
        raise PermanentProviderError(f"no signed upload URL returned for {path.name}",
                                     provider=api.provider, operation="upload")
    with progress.open_upload(path, to=api.provider) as fh:
        api.request("PUT", url, operation="upload", auth=False, content=fh, timeout=UPLOAD_TIMEOUT,
                    headers={"Content-Type": "application/octet-stream",
                             "X-Goog-Content-Length-Range": f"{size},{size}"})
    api.post(f"datasets/{dataset_id}:validateUpload", operation="upload", json={})


def upload_dataset(api: JSONClient, account: str, path: Path, sha256: str, *, wait_seconds: float = 300.0,
                   poll_seconds: float = 2.0, sleep: Callable[[float], Any] = time.sleep) -> Upload:
    """Make sure a READY dataset holds ``path``; returns its resource name as the file id."""
    dataset_id = dataset_id_for(sha256)
    name = f"accounts/{account}/datasets/{dataset_id}"
    size = path.stat().st_size
    created = _create(api, dataset_id, path)
    state = (created or {}).get("state")
    if created is None:
        state = api.get(f"datasets/{dataset_id}", operation="upload").get("state")
    if state != DATASET_READY:
        (_upload_small if size <= DIRECT_UPLOAD_MAX_BYTES else _upload_signed)(api, dataset_id, path)
        deadline = time.monotonic() + wait_seconds
        while True:
            obj = api.get(f"datasets/{dataset_id}", operation="upload")
            status = obj.get("status") or {}
            if status.get("code") not in (None, "OK"):
                raise PermanentProviderError(f"dataset {dataset_id}: {status.get('message') or status['code']}",
                                             provider=api.provider, operation="upload", code=status["code"])
            if obj.get("state") == DATASET_READY:
                break
            if time.monotonic() + poll_seconds > deadline:
                raise TransientProviderError(f"dataset {dataset_id} is not READY yet ({obj.get('state')})",
                                             provider=api.provider, operation="upload")
            sleep(poll_seconds)
    return Upload("fireworks", sha256, name, size, path.name)


def ready_dataset(api: JSONClient, account: str, sha256: str, size: int) -> Upload | None:
    """The READY dataset at these bytes' content address, or None (missing, unfinished or failed)."""
    dataset_id = dataset_id_for(sha256)
    response = api.request("GET", f"datasets/{dataset_id}", operation="verify", ok=(404,))
    if response.status_code == 404 or response.json().get("state") != DATASET_READY:
        return None
    return Upload("fireworks", sha256, f"accounts/{account}/datasets/{dataset_id}", size, f"{sha256}.jsonl")
