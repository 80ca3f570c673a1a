"""A run's data at its provider: an upload is reused only after the provider confirms it still holds
the same file, found again when a crash lost its record, and sent otherwise. Mixed into the Orchestrator.

Upload records are keyed by (provider, location, sha256): the same bytes at another endpoint, account
or project are another upload. Every reuse and every upload is a run event naming the file id, so the
ledger says which file each run trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tuneops import audit, progress
from tuneops.provider import Provider, Upload
from tuneops.retry import call_with_retry
from tuneops.runs import crash
from tuneops.store import queries
from tuneops.store.tables import RunRow, UploadRow

if TYPE_CHECKING:
    from tuneops.runs.orchestrator import Orchestrator


def _data_name(run: RunRow, kind: str) -> str:
    """The file a user knows an upload by (the staged copy is ``<sha256>.jsonl``): the spec's data file."""
    data = json.loads(run.spec_json).get("data") or {}
    if kind == "validation" and data.get("validation"):
        return Path(data["validation"]).name
    name = Path(data.get("train") or f"{kind} data").name
    return name if kind == "training" else f"{name} (validation split)"


def _as_upload(row: UploadRow) -> Upload:
    return Upload(row.provider, row.sha256, row.provider_file_id, row.bytes, row.filename)


class VerifiedUploads:
    """The upload step of the Orchestrator."""

    def upload(self: Orchestrator, run: RunRow) -> tuple[Upload, Upload | None]:
        """Make sure the run's data is at the provider (reusing a verified earlier upload of the same bytes)."""
        adapter = self.pool.for_run(run)
        train = self._ensure_upload(run, adapter, run.train_sha256, "training")
        valid = (self._ensure_upload(run, adapter, run.validation_sha256, "validation")
                 if run.validation_sha256 else None)
        return train, valid

    def _ensure_upload(self: Orchestrator, run: RunRow, adapter: Provider, sha256: str, kind: str) -> Upload:
        location = adapter.location()
        with self.store.read() as s:
            row = queries.find_upload(s, adapter.name, sha256, location)
        why = ""
        if row is not None:
            known = _as_upload(row)
            if self._call(run, "verify upload", lambda: adapter.verify_upload(known)):
                self._event(run.id, "call", f"{kind} data: reusing {known.provider_file_id} "
                            f"(verified at {adapter.name})", data={"sha256": sha256, "bytes": known.bytes})
                return known
            why = (f"{known.provider_file_id} is gone or changed at {location or adapter.name}; "
                   "uploading the data again")
            self._event(run.id, "note", f"{kind} data: {why}", data={"sha256": sha256})
        path = self._staged(run, adapter, sha256)
        size = path.stat().st_size
        found = self._call(run, "find uploads", lambda: adapter.find_uploads(sha256, size))
        if found:  # left at the provider by a crash after upload or a lost upload response
            return self._record_upload(run, found[0], location, kind, "found at the provider by name and "
                                       "size (an earlier upload whose record was lost); reusing it",
                                       replaced=row)
        sent: list[bool] = []

        def attempt() -> tuple[Upload, str]:
            # A retry first looks for the file: an upload whose response was lost may have arrived.
            if sent and (again := adapter.find_uploads(sha256, size)):
                return again[0], "found at the provider after an upload whose answer was lost; reusing it"
            sent.append(True)
            with progress.named(_data_name(run, kind)):
                return adapter.upload(path, sha256=sha256), why or "uploaded"

        up, how = self._call(run, "upload", attempt)
        return self._record_upload(run, up, location, kind, how, replaced=row)

    def _staged(self: Orchestrator, run: RunRow, adapter: Provider, sha256: str) -> Path:
        from tuneops.runs.orchestrator import staging_dir

        path = staging_dir() / f"{sha256}.jsonl"
        return path if path.is_file() else self._restage(run, adapter, sha256)

    def _record_upload(self: Orchestrator, run: RunRow, up: Upload, location: str, kind: str, why: str,
                       replaced: UploadRow | None) -> Upload:
        crash.point("after-upload")  # the data is at the provider; the ledger does not know yet
        with self.store.write() as s:
            row = queries.find_upload(s, up.provider, up.sha256, location)
            if row is None:
                row = UploadRow(provider=up.provider, account=location, sha256=up.sha256,
                                provider_file_id=up.provider_file_id, bytes=up.bytes, filename=up.filename,
                                created_at=self.clock())
            elif row.provider_file_id != up.provider_file_id:
                row.provider_file_id, row.bytes, row.filename = up.provider_file_id, up.bytes, up.filename
                row.created_at = self.clock()
            s.add(row)
            queries.add_event(s, run.id, "call", f"{kind} data: {up.provider_file_id} ({why})",
                              data={"bytes": up.bytes, "sha256": up.sha256})
            audit.append(s, "upload.created", "upload", up.provider_file_id, job_name=run.job_name,
                         actor=self.actor, details={"provider": up.provider, "location": location,
                                                    "dataset_sha256": up.sha256, "bytes": up.bytes,
                                                    "run_id": run.id, "reason": why,
                                                    "replaces": replaced.provider_file_id if replaced else None})
        return up

    def _call(self: Orchestrator, run: RunRow, operation: str, fn):  # type: ignore[no-untyped-def]
        return call_with_retry(fn, policy=self.policy, on_retry=self._retry_logger(run.id, operation))
