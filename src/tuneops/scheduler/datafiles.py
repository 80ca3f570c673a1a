"""Data freshness: how a job's training file differs from the dataset snapshot its model was trained on.

An example is identified by the same content key preflight uses (``datasets.reader.line_key``); the
snapshot cache keeps the keys of every prepared training snapshot (its manifest). Comparing the
current file's keys with the model's manifest gives the examples added and removed since. The cost
stays proportional to new data: an unchanged file (same size and mtime) is a cache hit, a file that
only grew is hashed from its old end, and nothing is parsed or tokenized either way.

The manifest holds every example of the training file before any validation split, so a spec with
``data.validation_split`` compares like with like.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tuneops.datasets.reader import line_key
from tuneops.scheduler.localcache import LocalCache

_TAIL = 4096  # bytes before the old end that must be unchanged for an append-only update
_MASK = (1 << 64) - 1
_BOM8 = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class DataChange:
    """The training file now versus the model's snapshot (``baseline`` says how that was known)."""

    examples: int  # non-blank lines in the file now (a repeated example counts each time, as in preflight)
    digest: str  # identifies the file's set of examples (the data fire key)
    added: int | None  # examples not in the snapshot (None: unknown)
    removed: int | None
    base_examples: int
    baseline: str  # "snapshot" (manifest keys), "count" (example counts only), "none" (no model yet)

    @property
    def changed_fraction(self) -> float | None:
        """Examples added or removed since the snapshot, as a fraction of the snapshot's size."""
        if self.added is None or self.removed is None:
            return None
        if self.base_examples == 0:
            return 1.0 if self.examples else 0.0
        return (self.added + self.removed) / self.base_examples


@dataclass(slots=True)
class _State:
    size: int
    mtime_ns: int
    count: int
    digest_sum: int
    tail: bytes
    newline: bool
    keys: bytes | None  # loaded lazily: steady-state ticks never need them

    @property
    def digest(self) -> str:
        return f"{self.count:x}-{self.digest_sum:016x}"


def _scan(f, first: bool) -> tuple[bytes, int, int]:  # type: ignore[no-untyped-def]
    """Keys (8 bytes each), count and key sum of the non-blank lines from the file's position on."""
    keys = bytearray()
    total = count = 0
    for raw in f:
        if first:
            first = False
            if raw.startswith(_BOM8):
                raw = raw[3:]
        if raw.isspace() or not raw:
            continue
        k = line_key(raw)[:8]
        keys += k
        total += int.from_bytes(k, "big")
        count += 1
    return bytes(keys), count, total & _MASK


def _multiset(keys: bytes) -> Counter[bytes]:
    return Counter(keys[i:i + 8] for i in range(0, len(keys), 8))


class DataFiles:
    """Current example keys of data files (cached by stat) and their comparison with snapshots."""

    def __init__(self, cache: LocalCache, snapshot_dir: Path | None = None):
        self.cache = cache
        self.snapshot_dir = snapshot_dir
        self._states: dict[str, _State] = {
            r[0]: _State(r[1], r[2], r[3], int(r[4].split("-")[1], 16), r[5], bool(r[6]), None)
            for r in cache.rows("datafile", "path, size, mtime_ns, count, digest, tail, newline")}
        self._compare = {(r[0], r[3]): r for r in cache.rows("compare")}
        self._new_states: dict[str, _State] = {}
        self._new_compare: list[tuple[object, ...]] = []
        self._manifests: dict[str, Counter[bytes] | None] = {}
        self._snapshots = None

    def state(self, path: str) -> _State | None:
        """The file's current state (None when it cannot be read)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        old = self._new_states.get(path) or self._states.get(path)
        if old is not None and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            return old
        try:
            new = self._read(path, st, old)
        except OSError:
            return None
        self._new_states[path] = new
        return new

    def _read(self, path: str, st: os.stat_result, old: _State | None) -> _State:
        with open(path, "rb") as f:
            if old is not None and old.newline and st.st_size > old.size >= len(old.tail):
                f.seek(old.size - len(old.tail))
                if f.read(len(old.tail)) == old.tail:
                    keys = self._keys(path, old)
                    if keys is not None:
                        more, count, total = _scan(f, first=old.size == 0)
                        return self._finish(f, st, old.count + count, (old.digest_sum + total) & _MASK, keys + more)
                f.seek(0)
            keys, count, total = _scan(f, first=True)
            return self._finish(f, st, count, total, keys)

    def _finish(self, f, st: os.stat_result, count: int, total: int, keys: bytes) -> _State:  # type: ignore[no-untyped-def]
        size = f.tell()
        f.seek(max(0, size - _TAIL))
        tail = f.read(_TAIL)
        return _State(size, st.st_mtime_ns, count, total, tail, tail.endswith(b"\n"), keys)

    def _keys(self, path: str, state: _State) -> bytes | None:
        if state.keys is None:
            rows = self.cache.rows("datafile", "keys", "WHERE path = ? AND size = ? AND mtime_ns = ?",
                                   (path, state.size, state.mtime_ns))
            state.keys = rows[0][0] if rows else None
        return state.keys

    def _manifest(self, sha256: str) -> Counter[bytes] | None:
        if sha256 not in self._manifests:
            from tuneops.datasets.cache import SnapshotCache, default_dir

            if self._snapshots is None:
                self._snapshots = SnapshotCache(self.snapshot_dir or default_dir())
            raw = self._snapshots.get_manifest(sha256)
            self._manifests[sha256] = None if raw is None else _multiset(raw)
        return self._manifests[sha256]

    def change(self, path: str, baseline_sha256: str | None, baseline_examples: int = 0) -> DataChange | None:
        """How the file differs from the snapshot ``baseline_sha256`` (None: no model yet); None if unreadable."""
        state = self.state(path)
        if state is None:
            return None
        if baseline_sha256 is None:
            return DataChange(state.count, state.digest, state.count, 0, 0, "none")
        hit = self._compare.get((path, baseline_sha256))
        if hit is not None and hit[1] == state.size and hit[2] == state.mtime_ns:
            return DataChange(state.count, state.digest, hit[4], hit[5], hit[6], "snapshot")
        base = self._manifest(baseline_sha256)
        keys = self._keys(path, state) if base is not None else None
        if base is None or keys is None:
            # No manifest (the model was trained elsewhere or before manifests existed): counts only.
            return DataChange(state.count, state.digest, max(0, state.count - baseline_examples), None,
                              baseline_examples, "count")
        # Multisets: a repeated example is one more example to train on, as preflight counts it.
        now = _multiset(keys)
        added, removed = (now - base).total(), (base - now).total()
        row = (path, state.size, state.mtime_ns, baseline_sha256, added, removed, base.total())
        self._compare[(path, baseline_sha256)] = row
        self._new_compare.append(row)
        return DataChange(state.count, state.digest, added, removed, base.total(), "snapshot")

    def flush(self) -> None:
        """Write what this pass learned back to the cache."""
        self.cache.put("datafile", [
            (p, s.size, s.mtime_ns, s.count, s.digest, s.tail, int(s.newline), s.keys or b"")
            for p, s in self._new_states.items() if s.keys is not None])
        self.cache.put("compare", self._new_compare)
        for path, s in self._new_states.items():  # kept for the next pass of a long-running process
            self._states[path] = _State(s.size, s.mtime_ns, s.count, s.digest_sum, s.tail, s.newline, None)
        self._new_states.clear()
        self._new_compare.clear()
        self._manifests.clear()  # a snapshot missing now may be written by a run admitted later
        if self._snapshots is not None:
            self._snapshots.close()
            self._snapshots = None


class FileHashes:
    """sha256 of whole files (eval sets), recomputed only when a file's size or mtime changes."""

    def __init__(self, cache: LocalCache):
        self.cache = cache
        self._known = {r[0]: r for r in cache.rows("filehash")}
        self._new: list[tuple[object, ...]] = []
        self._seen: dict[str, str | None] = {}  # many jobs share one eval set: stat it once per pass

    def sha256(self, path: str) -> str | None:
        """The file's sha256, or None when it cannot be read."""
        if path not in self._seen:
            self._seen[path] = self._sha256(path)
        return self._seen[path]

    def _sha256(self, path: str) -> str | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        row = self._known.get(path)
        if row is not None and row[1] == st.st_size and row[2] == st.st_mtime_ns:
            return str(row[3])
        try:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return None
        row = (path, st.st_size, st.st_mtime_ns, digest)
        self._known[path] = row
        self._new.append(row)
        return digest

    def flush(self) -> None:
        """Write new hashes back to the cache; the next pass looks at the files again."""
        self.cache.put("filehash", self._new)
        self._new.clear()
        self._seen.clear()
