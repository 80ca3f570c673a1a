"""Large files through OpenAI's Uploads API: parts in parallel, resumable within the upload's lifetime.

An Upload lives for an hour and accepts parts of up to 64 MB in any order; ``complete`` joins them
in the order given. The upload id and every finished part id are kept in a JSON sidecar next to the
staged file, so a re-run after a crash or a failed part sends only the missing parts.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneops import progress
from tuneops.errors import PermanentProviderError
from tuneops.providers.openai.capabilities import MAX_UPLOAD_BYTES

MAX_PART_BYTES = 64 * 1024 * 1024
# A sidecar whose upload expires sooner than this is not resumed: the parts could not all make it.
_EXPIRY_MARGIN_SECONDS = 120
_SIDECAR_VERSION = 1

Call = Callable[[str, Callable[[], Any]], Any]


def sidecar_path(path: Path, provider: str) -> Path:
    """Where the resume state of ``path``'s upload to ``provider`` is kept."""
    return path.with_name(f"{path.name}.{provider}-upload.json")


@dataclass
class UploadState:
    """What the sidecar records: which Upload, for which bytes, and the parts already accepted."""

    upload_id: str
    sha256: str
    bytes: int
    part_bytes: int
    expires_at: int
    account: str
    parts: dict[int, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The sidecar's JSON."""
        return {"version": _SIDECAR_VERSION, "upload_id": self.upload_id, "sha256": self.sha256,
                "bytes": self.bytes, "part_bytes": self.part_bytes, "expires_at": self.expires_at,
                "account": self.account, "parts": {str(i): p for i, p in sorted(self.parts.items())}}

    @classmethod
    def load(cls, path: Path) -> UploadState | None:
        """The state in ``path``, or None when it is missing or unreadable."""
        try:
            raw = json.loads(path.read_text())
            if raw.get("version") != _SIDECAR_VERSION:
                return None
            return cls(raw["upload_id"], raw["sha256"], int(raw["bytes"]), int(raw["part_bytes"]),
                       int(raw["expires_at"]), raw["account"],
                       {int(i): str(p) for i, p in raw.get("parts", {}).items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None


class ChunkedUpload:
    """One file sent through the Uploads API, resuming from its sidecar when it can."""

    def __init__(self, client: Any, call: Call, *, provider: str, account: str, part_bytes: int,
                 workers: int, mime_type: str, clock: Callable[[], float] = time.time):
        if not 0 < part_bytes <= MAX_PART_BYTES:
            raise ValueError(f"upload_part_bytes must be between 1 and {MAX_PART_BYTES}")
        self.client = client
        self.call = call
        self.provider = provider
        self.account = account
        self.part_bytes = part_bytes
        self.workers = max(1, workers)
        self.mime_type = mime_type
        self.clock = clock
        self._lock = threading.Lock()

    def upload(self, path: Path, *, sha256: str, purpose: str, filename: str) -> Any:
        """Upload ``path`` and return the File object the completed Upload produced."""
        size = path.stat().st_size
        if size > MAX_UPLOAD_BYTES:
            raise PermanentProviderError(f"{path} has {size} bytes; an Upload takes at most 8 GB",
                                         provider=self.provider, operation="upload")
        sidecar = sidecar_path(path, self.provider)
        state = self._resumable(sidecar, sha256, size)
        if state is not None:
            try:
                return self._finish(path, sidecar, state)
            except PermanentProviderError:
                # The Upload was cancelled or expired at the provider: forget it and start over once.
                sidecar.unlink(missing_ok=True)
        state = self._start(sidecar, sha256, size, purpose, filename)
        return self._finish(path, sidecar, state)

    def _resumable(self, sidecar: Path, sha256: str, size: int) -> UploadState | None:
        state = UploadState.load(sidecar)
        if state is None:
            return None
        same = (state.sha256, state.bytes, state.part_bytes, state.account) == (
            sha256, size, self.part_bytes, self.account)
        if not same or state.expires_at - _EXPIRY_MARGIN_SECONDS <= self.clock():
            sidecar.unlink(missing_ok=True)
            return None
        return state

    def _start(self, sidecar: Path, sha256: str, size: int, purpose: str, filename: str) -> UploadState:
        up = self.call("upload", lambda: self.client.uploads.create(
            bytes=size, filename=filename, mime_type=self.mime_type, purpose=purpose))
        state = UploadState(up.id, sha256, size, self.part_bytes, int(up.expires_at), self.account)
        self._save(sidecar, state)
        return state

    def _finish(self, path: Path, sidecar: Path, state: UploadState) -> Any:
        count = max(1, math.ceil(state.bytes / state.part_bytes))
        missing = [i for i in range(count) if i not in state.parts]
        if missing:
            with progress.uploading(path, to=self.provider) as advance:
                advance(state.bytes - sum(_part_size(state, i) for i in missing))  # sent before a resume
                self._send_parts(path, sidecar, state, missing, advance)
        part_ids = [state.parts[i] for i in range(count)]
        md5 = _md5(path)
        done = self.call("upload", lambda: self.client.uploads.complete(
            state.upload_id, part_ids=part_ids, md5=md5))
        if done.status != "completed" or done.file is None:
            raise PermanentProviderError(
                f"Upload {state.upload_id} ended {done.status!r} without a file",
                provider=self.provider, operation="upload")
        sidecar.unlink(missing_ok=True)
        return done.file

    def _send_parts(self, path: Path, sidecar: Path, state: UploadState, indices: list[int],
                    advance: progress.Advance) -> None:
        def send(index: int) -> None:
            with path.open("rb") as fh:
                fh.seek(index * state.part_bytes)
                chunk = fh.read(state.part_bytes)
            # Reported as the HTTP client reads the part, so the bar moves with the bytes on the wire.
            data = ("upload", progress.ReportingReader(io.BytesIO(chunk), advance))
            part = self.call("upload", lambda: self.client.uploads.parts.create(state.upload_id, data=data))
            with self._lock:
                state.parts[index] = part.id
                self._save(sidecar, state)

        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(indices)),
                                  thread_name_prefix=f"tuneops-{self.provider}-upload")
        try:
            futures = [pool.submit(send, i) for i in indices]
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f.exception() for f in done if f.exception() is not None]
        finally:
            # Parts already in flight finish (and are recorded); queued ones are dropped for the re-run.
            pool.shutdown(wait=True, cancel_futures=True)
        if failed:
            raise failed[0]

    def _save(self, sidecar: Path, state: UploadState) -> None:
        tmp = sidecar.with_name(sidecar.name + ".tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=1))
        os.replace(tmp, sidecar)  # atomic: a crash never leaves a half-written sidecar


def _part_size(state: UploadState, index: int) -> int:
    return min(state.part_bytes, state.bytes - index * state.part_bytes)


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
