"""Files and multi-part Uploads held in memory by the sandbox (a local stand-in, not an LLM)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .wire import ApiError, bad_request, not_found

__all__ = ["FILE_PURPOSES", "FileRecord", "FileStore", "parse_ttl"]

FILE_PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
MAX_FILE_BYTES = 512 * 1024**2
MAX_UPLOAD_BYTES = 8 * 1024**3
MAX_PART_BYTES = 64 * 1024**2
UPLOAD_TTL_SECONDS = 3600
_MIN_FILE_TTL, _MAX_FILE_TTL = 3600, 30 * 86400


@dataclass
class FileRecord:
    """One stored file."""

    id: str
    filename: str
    purpose: str
    content: bytes
    created_at: int
    expires_at: int | None = None

    def expired(self, now: float) -> bool:
        """Whether the file's ``expires_after`` has passed."""
        return self.expires_at is not None and now >= self.expires_at

    def to_api(self) -> dict[str, Any]:
        """The ``file`` object as OpenAI returns it."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.content),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
            "expires_at": self.expires_at,
        }


@dataclass
class _Upload:
    id: str
    bytes: int
    filename: str
    mime_type: str
    purpose: str
    created_at: int
    expires_at: int
    file_ttl: int | None
    status: str = "pending"
    parts: dict[str, bytes] = field(default_factory=dict)
    file: FileRecord | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "upload",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": self.status,
            "file": self.file.to_api() if self.file else None,
        }


def _check_purpose(purpose: object, filename: str) -> str:
    if not isinstance(purpose, str) or purpose not in FILE_PURPOSES:
        raise bad_request(
            f"Invalid 'purpose': {purpose!r}. Expected one of {', '.join(sorted(FILE_PURPOSES))}.",
            param="purpose",
            code="invalid_value",
        )
    if purpose == "fine-tune" and not filename.endswith(".jsonl"):
        raise bad_request(
            f"Invalid file format for fine-tuning: '{filename}'. Upload a .jsonl file.",
            param="file",
            code="invalid_file_format",
        )
    return purpose


def parse_ttl(anchor: object, seconds: object) -> int | None:
    """Validate ``expires_after`` (anchor ``created_at``, 1 hour to 30 days) into seconds."""
    if anchor is None and seconds is None:
        return None
    try:
        ttl = int(str(seconds))
    except ValueError:
        ttl = -1
    if anchor != "created_at" or not _MIN_FILE_TTL <= ttl <= _MAX_FILE_TTL:
        raise bad_request(
            "Invalid 'expires_after': expected anchor 'created_at' and seconds from 3600 to 2592000.",
            param="expires_after",
        )
    return ttl


class FileStore:
    """Files and Uploads, sharing the state's lock, clock and id source."""

    def __init__(self, new_id: Callable[..., str], clock: Callable[[], float], lock: threading.RLock) -> None:
        self._new_id, self._clock, self._lock = new_id, clock, lock
        self.files: dict[str, FileRecord] = {}
        self._uploads: dict[str, _Upload] = {}

    def put(self, record: FileRecord) -> None:
        """Store a file built elsewhere (a job's result file)."""
        with self._lock:
            self.files[record.id] = record

    def create(self, content: bytes, filename: str, purpose: object, ttl: int | None = None) -> FileRecord:
        """Store an uploaded file."""
        checked = _check_purpose(purpose, filename)
        if len(content) > MAX_FILE_BYTES:
            raise ApiError(413, "File is larger than 512 MB; use the Uploads API.", param="file", code="file_too_large")
        with self._lock:
            now = int(self._clock())
            record = FileRecord(
                id=self._new_id("file-", 22),
                filename=filename,
                purpose=checked,
                content=content,
                created_at=now,
                expires_at=now + ttl if ttl else None,
            )
            self.files[record.id] = record
            return record

    def get(self, file_id: str) -> FileRecord:
        """A live file by id, or 404."""
        with self._lock:
            record = self.files.get(file_id)
            if record is None or record.expired(self._clock()):
                raise not_found("file", file_id, param="file_id")
            return record

    def list(self, *, purpose: str | None, order: str) -> list[FileRecord]:
        """Live files in creation order (``asc``) or newest first (``desc``)."""
        with self._lock:
            now = self._clock()
            records = [f for f in self.files.values() if not f.expired(now) and (not purpose or f.purpose == purpose)]
        return records if order == "asc" else records[::-1]

    def delete(self, file_id: str) -> dict[str, Any]:
        """Delete a file; jobs already created keep their data."""
        with self._lock:
            self.get(file_id)
            del self.files[file_id]
            return {"id": file_id, "object": "file", "deleted": True}

    # -- Uploads API --------------------------------------------------------------------

    def _upload(self, upload_id: str) -> _Upload:
        upload = self._uploads.get(upload_id)
        if upload is None:
            raise not_found("upload", upload_id, param="upload_id")
        if upload.status == "pending" and self._clock() >= upload.expires_at:
            upload.status = "expired"
        return upload

    def _pending(self, upload_id: str) -> _Upload:
        upload = self._upload(upload_id)
        if upload.status != "pending":
            raise bad_request(
                f"Upload {upload_id} is {upload.status}; only pending uploads accept this.", param="upload_id"
            )
        return upload

    def create_upload(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start an Upload that parts are added to."""
        for name in ("bytes", "filename", "mime_type", "purpose"):
            if body.get(name) is None:
                raise bad_request(
                    f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
                )
        size, filename = body["bytes"], body["filename"]
        if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_UPLOAD_BYTES:
            raise bad_request("Invalid 'bytes': expected a positive integer up to 8 GB.", param="bytes")
        if not isinstance(filename, str) or not filename:
            raise bad_request("Invalid 'filename': expected a non-empty string.", param="filename")
        purpose = _check_purpose(body["purpose"], filename)
        expires = body.get("expires_after") or {}
        ttl = parse_ttl(expires.get("anchor"), expires.get("seconds")) if isinstance(expires, dict) else None
        with self._lock:
            now = int(self._clock())
            upload = _Upload(
                id=self._new_id("upload_"),
                bytes=size,
                filename=filename,
                mime_type=str(body["mime_type"]),
                purpose=purpose,
                created_at=now,
                expires_at=now + UPLOAD_TTL_SECONDS,
                file_ttl=ttl,
            )
            self._uploads[upload.id] = upload
            return upload.to_api()

    def add_part(self, upload_id: str, data: bytes) -> dict[str, Any]:
        """Add one part (at most 64 MB) to a pending Upload."""
        if len(data) > MAX_PART_BYTES:
            raise ApiError(413, "Upload parts can be at most 64 MB.", param="data", code="part_too_large")
        with self._lock:
            upload = self._pending(upload_id)
            part_id = self._new_id("part_")
            upload.parts[part_id] = data
            return {
                "id": part_id,
                "object": "upload.part",
                "created_at": int(self._clock()),
                "upload_id": upload_id,
            }

    def complete_upload(self, upload_id: str, part_ids: object, md5: object = None) -> dict[str, Any]:
        """Join the parts in the order given into a File."""
        if not isinstance(part_ids, list) or not all(isinstance(p, str) for p in part_ids):
            raise bad_request("Invalid 'part_ids': expected an array of part ids.", param="part_ids")
        with self._lock:
            upload = self._pending(upload_id)
            unknown = [p for p in part_ids if p not in upload.parts]
            if unknown:
                raise bad_request(f"Part {unknown[0]} does not belong to upload {upload_id}.", param="part_ids")
            content = b"".join(upload.parts[p] for p in part_ids)
            if len(content) != upload.bytes:
                raise bad_request(
                    f"The parts add up to {len(content)} bytes, but the upload was created for {upload.bytes} bytes.",
                    param="part_ids",
                )
            if md5 is not None and md5 != hashlib.md5(content).hexdigest():
                raise bad_request("The md5 checksum does not match the uploaded content.", param="md5")
            upload.file = self.create(content, upload.filename, upload.purpose, upload.file_ttl)
            upload.status = "completed"
            upload.parts.clear()  # the file now holds the bytes
            return upload.to_api()

    def cancel_upload(self, upload_id: str) -> dict[str, Any]:
        """Cancel a pending Upload; no parts can be added afterwards."""
        with self._lock:
            upload = self._pending(upload_id)
            upload.status = "cancelled"
            upload.parts.clear()
            return upload.to_api()
