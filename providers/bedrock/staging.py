"""Stage prepared datasets in S3 under content-addressed keys, so the same bytes are uploaded once.

Keys are ``<prefix><sha256>.jsonl`` (prefix ``tuneops/`` by default). ``HeadObject`` comes first;
an object of the same size is reused. Uploads send the SHA-256 of the bytes actually read, which S3
checks on arrival, so a corrupted upload is refused instead of training on it.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from tuneops import progress
from tuneops.provider import Upload
from tuneops.providers.bedrock.errors import call, error_code, translate

SINGLE_PUT_MAX_BYTES = 5 * 1024**3


class S3Staging:
    """Content-addressed dataset objects in one bucket."""

    def __init__(self, s3: Any, bucket: str, prefix: str, provider: str):
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.provider = provider

    def key(self, sha256: str) -> str:
        """The object key for a dataset with this content hash."""
        return f"{self.prefix}{sha256}.jsonl"

    def uri(self, key: str) -> str:
        """The s3:// URI Bedrock reads the dataset from."""
        return f"s3://{self.bucket}/{key}"

    def size(self, key: str) -> int | None:
        """The object's size, or None when it does not exist."""
        from botocore.exceptions import ClientError

        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise translate(exc, self.provider, "upload") from exc
        return int(head.get("ContentLength", -1))

    def verify(self, upload: Upload) -> bool:
        """The object is still there with the same size and, where S3 kept the checksum sent with it,
        the same SHA-256."""
        from botocore.exceptions import ClientError

        key = upload.provider_file_id.removeprefix(f"s3://{self.bucket}/")
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise translate(exc, self.provider, "verify") from exc
        if int(head.get("ContentLength", -1)) != upload.bytes:
            return False
        kept = head.get("ChecksumSHA256")
        return kept is None or kept == _sha256_hex_b64(upload.sha256)

    def find(self, sha256: str, size: int) -> list[Upload]:
        """The object at these bytes' content address, if it holds that many bytes."""
        key = self.key(sha256)
        return [Upload(self.provider, sha256, self.uri(key), size, f"{sha256}.jsonl")] if self.size(key) == size else []

    def upload(self, path: Path, sha256: str) -> Upload:
        """Put ``path`` at its content address unless an object of the same size is there already."""
        key = self.key(sha256)
        size = path.stat().st_size
        if self.size(key) != size:
            digest = _sha256_b64(path)
            with progress.uploading(path, to=f"s3://{self.bucket}") as advance, path.open("rb") as fh:
                # boto3's transfer reports the bytes it sends (and takes them back when it re-sends);
                # one PutObject, as before: an object's SHA-256 is only kept for a single-part upload.
                call(self.provider, "upload", lambda: self.s3.upload_fileobj(
                    fh, self.bucket, key, Callback=advance, Config=_single_put(),
                    ExtraArgs={"ContentType": "application/jsonl", "ChecksumSHA256": digest}))
        return Upload(self.provider, sha256, self.uri(key), size, path.name)


def _single_put() -> Any:
    from boto3.s3.transfer import TransferConfig

    # No thread pool for one request; 5 GiB is S3's limit for a single PUT.
    return TransferConfig(multipart_threshold=SINGLE_PUT_MAX_BYTES, use_threads=False)


def _sha256_b64(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return base64.b64encode(h.digest()).decode()


def _sha256_hex_b64(sha256: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256)).decode()
