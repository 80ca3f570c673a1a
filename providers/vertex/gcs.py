"""Stage prepared datasets in Cloud Storage, content-addressed so the same bytes are uploaded once.

Objects are named ``<prefix><sha256>.jsonl`` (prefix ``tuneops/`` by default). Before uploading,
the object's metadata is read; an object of the same size is reused. The upload itself carries
``ifGenerationMatch=0`` so two processes racing to stage the same file cannot overwrite each other:
the loser gets 412 and reuses the winner's object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneops import progress
from tuneops.errors import PermanentProviderError
from tuneops.provider import Upload
from tuneops.providers.vertex.api import VertexAPI

CONTENT_TYPE = "application/jsonl"
# Media uploads are one request; allow a slow link time to move up to the 1 GB Vertex limit.
UPLOAD_TIMEOUT = 900.0


class GCSStaging:
    """Content-addressed dataset objects in one bucket."""

    def __init__(self, api: VertexAPI, bucket: str, prefix: str = "tuneops/"):
        self.api = api
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"

    def object_name(self, sha256: str) -> str:
        """The object name for a dataset with this content hash."""
        return f"{self.prefix}{sha256}.jsonl"

    def uri(self, name: str) -> str:
        """The gs:// URI Vertex reads the dataset from."""
        return f"gs://{self.bucket}/{name}"

    def stat(self, name: str) -> dict[str, Any] | None:
        """The object's metadata, or None when it does not exist."""
        response = self.api.send("GET", self.api.object_url(self.bucket, name), operation="upload",
                                 ok=(200, 404))
        return response.json() if response.status_code == 200 else None

    def upload(self, path: Path, sha256: str) -> Upload:
        """Place ``path`` at its content address unless an object of the same size is already there."""
        name = self.object_name(sha256)
        size = path.stat().st_size
        existing = self.stat(name)
        if existing is not None and int(existing.get("size", -1)) == size:
            return self._upload_record(sha256, name, size, path)
        # A size mismatch means an object from something else sits at our address: replace it.
        params: dict[str, Any] = {"uploadType": "media", "name": name}
        if existing is None:
            params["ifGenerationMatch"] = "0"
        with progress.open_upload(path, to=f"gs://{self.bucket}") as fh:
            response = self.api.send("POST", self.api.upload_url(self.bucket), operation="upload",
                                     ok=(200, 412), params=params, content=fh,
                                     headers={"Content-Type": CONTENT_TYPE}, timeout=UPLOAD_TIMEOUT)
        if response.status_code == 412:
            winner = self.stat(name)
            if winner is None or int(winner.get("size", -1)) != size:
                raise PermanentProviderError(
                    f"gs://{self.bucket}/{name} changed while uploading; upload again",
                    provider=self.api.provider, operation="upload", status=412)
        return self._upload_record(sha256, name, size, path)

    def _upload_record(self, sha256: str, name: str, size: int, path: Path) -> Upload:
        return Upload(self.api.provider, sha256, self.uri(name), size, path.name)

    def verify(self, upload: Upload) -> bool:
        """The object at the upload's URI is still there with the same size (and, where GCS keeps the
        uploader's sha256 in its metadata, the same checksum)."""
        name = upload.provider_file_id.removeprefix(f"gs://{self.bucket}/")
        meta = self.stat(name)
        if meta is None or int(meta.get("size", -1)) != upload.bytes:
            return False
        kept = (meta.get("metadata") or {}).get("sha256")
        return kept is None or kept == upload.sha256

    def find(self, sha256: str, size: int) -> list[Upload]:
        """The object at these bytes' content address, if it holds that many bytes."""
        name = self.object_name(sha256)
        meta = self.stat(name)
        if meta is None or int(meta.get("size", -1)) != size:
            return []
        return [Upload(self.api.provider, sha256, self.uri(name), size, f"{sha256}.jsonl")]
