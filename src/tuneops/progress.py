"""Progress of the steps that move many bytes (checking and hashing a dataset, uploading it), for whoever watches.

The library only reports; the CLI draws the bars (``tuneops.cli.bars``). A reporter sits in a context
variable, so adapters report without anything added to the Provider contract, and with none set (a
notebook, a scheduler tick, a test) a step costs one lookup and one log line. Standard library only:
adapters and the dataset reader import it.

    >>> seen = []
    >>> class Printer:
    ...     def start(self, step): seen.append(step.description)
    ...     def advance(self, step, n): pass
    ...     def end(self, step, error): seen.append(f"{step.done}/{step.total}")
    >>> with reporting(Printer()), step("hashing", "train.jsonl", 3) as advance:
    ...     advance(3)
    >>> seen
    ['hashing train.jsonl', '3/3']
"""

from __future__ import annotations

import contextvars
import io
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

log = logging.getLogger("tuneops.progress")

Advance = Callable[[int], None]
# Bytes gathered before a reporter hears of them: a line-by-line reader would otherwise call it per line.
# One HTTP client chunk (httpx sends 64 KiB at a time), so a slow upload still moves its bar every chunk.
_FLUSH_BYTES = 64 * 1024
_reporter: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar("tuneops_progress", default=None)
_name: contextvars.ContextVar[str | None] = contextvars.ContextVar("tuneops_progress_name", default=None)


class Step:
    """One step being reported: what it does to which file (and where to), its size and the bytes done."""

    def __init__(self, verb: str, name: str, total: int | None, target: str = ""):
        self.verb, self.name, self.total, self.target = verb, name, total, target
        self.done = 0
        self._pending = 0
        self._lock = threading.Lock()  # upload parts advance one step from several threads

    @property
    def description(self) -> str:
        """``uploading train.jsonl to openai``."""
        return f"{self.verb} {self.name}" + (f" to {self.target}" if self.target else "")

    def _advance(self, reporter: Reporter, n: int) -> None:
        with self._lock:
            self.done += n
            self._pending += n
            if abs(self._pending) < _FLUSH_BYTES:
                return
            n, self._pending = self._pending, 0
        reporter.advance(self, n)

    def _flush(self, reporter: Reporter) -> None:
        with self._lock:
            n, self._pending = self._pending, 0
        if n:
            reporter.advance(self, n)


class Reporter(Protocol):
    """Told when a step starts, as its bytes advance (negative when a sender rewinds to retry) and when it ends."""

    def start(self, step: Step) -> None:
        """A step began."""

    def advance(self, step: Step, n: int) -> None:
        """``n`` more bytes of ``step`` are done (called from any thread)."""

    def end(self, step: Step, error: BaseException | None) -> None:
        """The step finished (``error`` is None) or failed."""


@contextmanager
def reporting(reporter: Reporter | None) -> Iterator[None]:
    """Report the steps run inside this block (in this thread and context) to ``reporter``."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)


def current() -> Reporter | None:
    """The reporter steps are reported to here, if any."""
    return _reporter.get()


@contextmanager
def named(name: str) -> Iterator[None]:
    """Call the file the steps inside this block work on ``name`` (an upload sends a staged ``<sha256>.jsonl``)."""
    token = _name.set(name)
    try:
        yield
    finally:
        _name.reset(token)


def _ignore(n: int) -> None:
    pass


@contextmanager
def step(verb: str, name: str, total: int | None, *, target: str = "") -> Iterator[Advance]:
    """Report one step; yields ``advance(bytes)``. Logged at info level (``-v``) whether or not anyone watches."""
    item = Step(verb, name, total, target)
    log.info("%s (%s)", item.description, size_text(total))
    reporter = _reporter.get()
    started = time.monotonic()
    if reporter is None:
        yield _ignore
    else:
        reporter.start(item)
        try:
            yield lambda n: item._advance(reporter, n)
        except BaseException as exc:
            item._flush(reporter)
            reporter.end(item, exc)
            raise
        item._flush(reporter)
        reporter.end(item, None)
    log.debug("%s: done in %.1f s", item.description, time.monotonic() - started)


@contextmanager
def reading(verb: str, path: Path, label: str | None = None) -> Iterator[Advance | None]:
    """Report one pass over the file at ``path`` (``label``: its name as the spec writes it); yields
    ``advance``, or None when nobody watches, so a reader that would report every line can skip it."""
    try:
        total: int | None = path.stat().st_size
    except OSError:
        total = None  # the reader says what is wrong with the file
    with step(verb, Path(label).name if label else file_name(path), total) as advance:
        yield advance if _reporter.get() is not None else None


def file_name(path: Path) -> str:
    """How a step names ``path``: the name set by ``named``, else the file's own."""
    return _name.get() or path.name


@contextmanager
def uploading(path: Path, to: str) -> Iterator[Advance]:
    """Report sending ``path`` to ``to`` (a provider, a bucket); yields ``advance(bytes)``."""
    with step("uploading", file_name(path), path.stat().st_size, target=to) as advance:
        yield advance


@contextmanager
def open_upload(path: Path, to: str) -> Iterator[IO[bytes]]:
    """``path`` opened for sending to ``to``: every byte the sender reads is reported (a rewind takes it back)."""
    with uploading(path, to) as advance, path.open("rb") as fh:
        yield fh if advance is _ignore else ReportingReader(fh, advance)


def size_text(n: int | None) -> str:
    """A byte count in decimal units, as the bars show it: ``17.4 kB``, ``22.0 MB``."""
    if n is None:
        return "size unknown"
    if abs(n) < 1000:
        return f"{n} bytes"
    units = ("kB", "MB", "GB", "TB")
    value, i = n / 1000, 0
    while abs(value) >= 1000 and i < len(units) - 1:
        value, i = value / 1000, i + 1
    return f"{value:,.1f} {units[i]}"


class ReportingReader(io.BufferedIOBase):
    """A binary file whose position moves are reported: reads advance, seeks back (a retry re-sending) rewind.

    An ``io.IOBase`` so HTTP clients and SDKs treat it as the file it wraps (size from ``fileno``,
    chunked ``read``s); everything else is the wrapped file's.
    """

    def __init__(self, raw: IO[bytes], advance: Advance):
        super().__init__()
        self._raw = raw
        self._advance = advance
        self._at = raw.tell()

    def _moved(self) -> None:
        at = self._raw.tell()
        if at != self._at:
            self._advance(at - self._at)
            self._at = at

    def read(self, size: int | None = -1) -> bytes:
        """Read like the file, reporting the bytes."""
        data = self._raw.read(-1 if size is None else size)
        self._moved()
        return data

    read1 = read

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` like the file, reporting the bytes."""
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self._moved()
        return n

    def readline(self, size: int | None = -1) -> bytes:
        """One line, reported."""
        line = self._raw.readline(-1 if size is None else size)
        self._moved()
        return line

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Move like the file; a move back takes the bytes after it off the step."""
        at = self._raw.seek(offset, whence)
        self._moved()
        return at

    def tell(self) -> int:
        """The wrapped file's position."""
        return self._raw.tell()

    def fileno(self) -> int:
        """The wrapped file's descriptor (senders take the size from it)."""
        return self._raw.fileno()

    def readable(self) -> bool:
        """True: it is read from."""
        return True

    def seekable(self) -> bool:
        """Whether the wrapped file can seek."""
        return self._raw.seekable()

    @property
    def name(self) -> Any:
        """The wrapped file's name."""
        return getattr(self._raw, "name", None)

    def close(self) -> None:
        """Close the wrapped file too."""
        self._raw.close()
        super().close()
