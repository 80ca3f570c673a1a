"""Job directories of the local provider: the files a job is made of, its training process, and its liveness.

One job is one directory ``<root>/jobs/<name>``::

    job.json        what to train (written once, before the directory appears under its name)
    status.json     queued -> running -> succeeded / failed / cancelled (replaced atomically)
    launch.json     the pid of the training process, written by the process that started it
    metrics.jsonl   one line per training step: train loss, and validation loss where measured
    events.jsonl    lifecycle messages of the training process
    train.log       the training process's stdout and stderr
    adapter/        the LoRA adapter (safetensors) once training succeeded
    cancel          present when a cancel was asked
    .lock           held (flock) by the training process for its whole life

Liveness is the lock, not the pid: the starting process takes the lock and hands its descriptor to
the child, so a job whose lock can be taken has no process any more (crashed, killed, or never
started), and a reused pid can never pass for a live trainer.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from tuneops.clock import utcnow
from tuneops.providers.local.status import CANCELLED, CANCELLING, FAILED, FINAL, LIVE, QUEUED

# Training processes this process started, kept so they are reaped (no zombies hold a pid).
_children: list[subprocess.Popen[bytes]] = []


def _reap() -> None:
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically (readers see the old or the new file, never half of one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON file's object, or None when it does not exist."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def append_jsonl(path: Path, row: Mapping[str, Any]) -> None:
    """Append one JSON line (one write call, so lines never interleave)."""
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, sort_keys=True, default=str) + "\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path`` (a line being written is skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    rows = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            rows.append(json.loads(line))
    return rows


def file_hashes(directory: Path) -> dict[str, str]:
    """sha256 of every file under ``directory``, by relative path."""
    out = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        out[path.relative_to(directory).as_posix()] = digest.hexdigest()
    return out


def manifest_sha256(hashes: Mapping[str, str]) -> str:
    """One sha256 for a set of files: over their sorted ``name sha256`` lines."""
    return hashlib.sha256("".join(f"{n} {h}\n" for n, h in sorted(hashes.items())).encode()).hexdigest()


class JobDir:
    """One job's directory and what can be read from or done to it."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name

    job_file = property(lambda self: self.path / "job.json")
    status_file = property(lambda self: self.path / "status.json")
    launch_file = property(lambda self: self.path / "launch.json")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    events_file = property(lambda self: self.path / "events.jsonl")
    log_file = property(lambda self: self.path / "train.log")
    adapter_dir = property(lambda self: self.path / "adapter")
    cancel_file = property(lambda self: self.path / "cancel")
    lock_file = property(lambda self: self.path / ".lock")

    def exists(self) -> bool:
        """True once the job directory is complete (it appears under its name in one rename)."""
        return self.job_file.is_file()

    def config(self) -> dict[str, Any]:
        """What the job trains (job.json)."""
        return read_json(self.job_file) or {}

    def status(self) -> dict[str, Any]:
        """The status file as written last."""
        return read_json(self.status_file) or {"status": QUEUED}

    def set_status(self, status: str, **fields: Any) -> dict[str, Any]:
        """Write a new status, keeping the fields already there."""
        data = {**self.status(), **fields, "status": status, "updated_at": utcnow().isoformat()}
        write_json(self.status_file, data)
        return data

    def event(self, message: str, level: str = "info", **data: Any) -> None:
        """Append a lifecycle event."""
        append_jsonl(self.events_file, {"at": utcnow().isoformat(), "level": level, "message": message, **data})

    def launched(self) -> dict[str, Any] | None:
        """The launch record (pid, time), or None if no process was started yet."""
        return read_json(self.launch_file)

    @contextlib.contextmanager
    def locked(self) -> Iterator[int | None]:
        """Try to take the job's lock without waiting: yields its descriptor, or None while a trainer holds it."""
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            yield fd
        finally:
            os.close(fd)  # closing the last descriptor of this open file releases the lock

    def alive(self) -> bool:
        """True while a training process holds the job's lock."""
        _reap()
        with self.locked() as fd:
            return fd is None

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the training log."""
        try:
            with self.log_file.open("rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - 16384))
                text = fh.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def last_error(self) -> str:
        """The most telling line of the training log: its last error line, else its last line."""
        tail = [ln.strip() for ln in self.log_tail(60).splitlines() if ln.strip()]
        for line in reversed(tail):
            if "Error" in line or "error:" in line.lower() or "Killed" in line:
                return line[:500]
        return tail[-1][:500] if tail else "nothing in train.log"

    # -- the training process -----------------------------------------------------------------------

    def launch(self, command: Sequence[str], env: Mapping[str, str]) -> int | None:
        """Start the training process detached, unless one runs or ran already; returns its pid or None."""
        with self.locked() as fd:
            if (fd is None or self.launched() is not None or self.status().get("status") != QUEUED
                    or self.cancel_file.exists()):
                return None
            with self.log_file.open("ab") as log:
                proc = subprocess.Popen(list(command), cwd=self.path, env=dict(env), stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                        pass_fds=(fd,))  # the child inherits the lock; it is alive while held
            _children.append(proc)
            write_json(self.launch_file, {"pid": proc.pid, "at": utcnow().isoformat(), "command": list(command)})
            return proc.pid

    def settle(self) -> dict[str, Any]:
        """The status, with a job whose process died without a final status recorded as failed (or cancelled)."""
        status = self.status()
        state = status.get("status")
        if state not in LIVE or (state == QUEUED and self.launched() is None) or self.alive():
            return status
        with self.locked() as fd:
            if fd is None:
                return self.status()
            status, launched = self.status(), self.launched() or {}
            if status.get("status") not in LIVE or (status.get("status") == QUEUED and not launched):
                return status
            if self.cancel_file.exists():
                return self.set_status(CANCELLED, finished_at=utcnow().isoformat())
            pid = status.get("pid") or launched.get("pid")
            reason = (f"the training process (pid {pid}) ended without a final status (killed, or out of "
                      f"memory); last line of train.log: {self.last_error()}")
            self.event(reason, "error")
            return self.set_status(FAILED, error=reason, error_code="process_died",
                                   finished_at=utcnow().isoformat())

    def cancel(self) -> dict[str, Any]:
        """Ask the training process to stop (SIGTERM to its process group); a job without one is cancelled now."""
        status = self.settle()
        if status.get("status") in FINAL:
            return status
        self.cancel_file.touch()
        if self.alive():
            pid = status.get("pid") or (self.launched() or {}).get("pid")
            if pid:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(pid), signal.SIGTERM)
            return {**status, "status": CANCELLING}
        with self.locked() as fd:
            if fd is None:  # a launch got in first; its process sees the cancel file
                return {**self.status(), "status": CANCELLING}
            return self.set_status(CANCELLED, finished_at=utcnow().isoformat())
