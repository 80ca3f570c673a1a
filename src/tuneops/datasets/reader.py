"""Streaming JSONL reading with line numbers: one line in memory at a time, file-level problems noted.

The reader never decodes or parses; it splits lines, strips line endings and a UTF-8 BOM, skips
blank lines and reports what concerns the file as a whole (BOM, CRLF, UTF-16, unreadable, overlong
lines). Parsing and checking belong to ``checks``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from xxhash import xxh3_128, xxh3_128_digest

from tuneops.datasets.findings import Finding


def line_key(raw: bytes) -> bytes:
    """Content key of a line (16 bytes): the same whether it ends in LF, CRLF or (last line) nothing.

    XXH3-128 rather than a cryptographic hash: keys only find earlier results and duplicates in a
    local cache (accidental collisions are out of reach at 128 bits) and hashing runs at memory
    speed. What a run uploads is identified by the sha256 of the prepared file.
    """
    if raw[-1:] != b"\n":
        raw += b"\n"
    elif raw[-2:-1] == b"\r":
        raw = raw[:-2] + b"\n"
    return xxh3_128_digest(raw)


# A single line longer than this is reported and skipped instead of being held in memory. The
# longest training context any provider documents is 131,072 tokens (a few hundred KB of text); a
# model's own limit narrows it further (``line_cap``).
MAX_LINE_BYTES = int(os.environ.get("TUNEOPS_MAX_LINE_BYTES", 8 * 1024 * 1024))
BYTES_PER_TOKEN_CAP = 32  # no realistic text averages more bytes per token


def line_cap(token_limit: int | None) -> int:
    """Bytes above which one line cannot be an example a model with ``token_limit`` trains on whole."""
    if token_limit is None:
        return MAX_LINE_BYTES
    return min(MAX_LINE_BYTES, max(1024 * 1024, BYTES_PER_TOKEN_CAP * token_limit))

_BOM8 = b"\xef\xbb\xbf"
_BOM16 = (b"\xff\xfe", b"\xfe\xff")


class LineReader:
    """Iterate ``(line_number, raw_bytes)`` over the non-blank lines of a JSONL file.

    ``raw_bytes`` keeps its line ending (LF or CRLF; none on a last line without one). With
    ``hasher`` every byte read is fed to it (the checkpoint digest); with ``advance`` the count of
    every byte read (a progress bar); ``resume=(offset, lines, blank, crlf)`` continues a scan whose
    first ``offset`` bytes were read before.
    """

    def __init__(self, path: Path, label: str, findings: list[Finding], *, max_line_bytes: int = MAX_LINE_BYTES,
                 hasher: xxh3_128 | None = None, resume: tuple[int, int, int, int] | None = None,
                 advance: Callable[[int], None] | None = None):
        self.path = path
        self.label = label
        self.findings = findings
        self.max_line_bytes = max_line_bytes
        self.hasher = hasher
        self.resume = resume
        self.advance = advance
        self.bytes = 0
        self.lines = 0
        self.blank = 0
        self.crlf = 0
        self.ends_with_newline = False
        self.complete = False  # read to the end without an error

    def _add(self, severity: str, code: str, line: int | None, message: str) -> None:
        self.findings.append(Finding(severity, code, self.label, line, None, message))  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        try:
            f = open(self.path, "rb", buffering=1 << 20)  # noqa: SIM115 - closed in the finally below
        except OSError as exc:
            self._add("error", "file.unreadable", None, f"cannot read the file: {exc.strerror or exc}")
            return
        try:
            yield from self._lines(f)
            self.complete = True
        except OSError as exc:
            self._add("error", "file.unreadable", self.lines or None, f"read failed: {exc.strerror or exc}")
        finally:
            f.close()

    def file_findings(self) -> None:
        """Add the findings about the whole file (called once the scan is over)."""
        if self.crlf:
            self._add("warning", "encoding.crlf", None,
                      f"{self.crlf} line(s) end in CRLF (Windows line endings); prepared files use LF")

    def _lines(self, f) -> Iterator[tuple[int, bytes]]:
        # Lines are yielded with their line ending: JSON parsing ignores it and slicing it off would
        # copy every line. Hash keys normalize the one line that may lack it (see ``line_key``).
        limit = self.max_line_bytes
        readline = f.readline
        if self.hasher is not None:
            update = self.hasher.update
            plain = readline

            def readline(size: int) -> bytes:
                chunk = plain(size)
                update(chunk)
                return chunk

        if self.advance is not None:
            # Wrapped only when someone watches: a scan without a bar keeps its one call per line.
            advance, unreported = self.advance, readline

            def readline(size: int) -> bytes:
                chunk = unreported(size)
                advance(len(chunk))
                return chunk

        if self.resume is not None:
            offset, lineno, self.blank, self.crlf = self.resume
            f.seek(offset)
            if self.advance is not None:
                self.advance(offset)  # read before, and checked then: done
            self.ends_with_newline = True
            raw = readline(limit)
        else:
            lineno = 0
            raw = readline(limit)
            if raw.startswith(_BOM16):
                self._add("error", "encoding.utf16", 1,
                          "the file is UTF-16 (it starts with a UTF-16 byte order mark); save it as UTF-8")
                self.lines = 1
                return
            if raw.startswith(_BOM8):
                self._add("warning", "encoding.bom", 1,
                          "the file starts with a UTF-8 byte order mark; it is removed in prepared files")
                raw = raw[3:]
        while raw:
            lineno += 1
            if raw[-1] != 10:  # no newline: the last line, or a line over the limit
                if len(raw) >= limit:
                    self._skip_rest(readline, lineno)
                    raw = readline(limit)
                    continue
                self.ends_with_newline = False
            else:
                self.ends_with_newline = True
                if raw[-2:-1] == b"\r":
                    self.crlf += 1
            if raw.isspace():
                self.blank += 1
                self._add("warning", "json.blank", lineno, "blank line (skipped)")
            else:
                yield lineno, raw
            raw = readline(limit)
        self.lines = lineno
        self.bytes = f.tell()

    def _skip_rest(self, readline, lineno: int) -> None:
        size = self.max_line_bytes
        while True:
            chunk = readline(self.max_line_bytes)
            size += len(chunk)
            if not chunk or chunk[-1:] == b"\n":
                break
        self.ends_with_newline = True
        self._add("error", "file.line_too_long", lineno,
                  f"line is at least {size:,} bytes, over the {self.max_line_bytes:,}-byte limit of one example "
                  "(refused without parsing; split it or remove it)")
