"""Data freshness against the snapshot cache: new and changed examples since a model's snapshot, and a
check that costs only the new data (an unchanged file hashes nothing, an appended file its tail)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tuneops import registry
from tuneops import spec as specmod
from tuneops.datasets import build_snapshot
from tuneops.examples import tickets
from tuneops.scheduler import datafiles
from tuneops.scheduler.datafiles import DataFiles
from tuneops.scheduler.localcache import LocalCache
from tuneops.testing import FakeProvider


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    undo = registry.register("fake", FakeProvider)
    yield FakeProvider()
    undo()


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines the freshness check hashed."""
    calls = [0]
    real = datafiles.line_key

    def counting(raw: bytes) -> bytes:
        calls[0] += 1
        return real(raw)

    monkeypatch.setattr(datafiles, "line_key", counting)
    return calls


def _snapshot(project: Path, fake: FakeProvider, tmp_path: Path) -> tuple[str, Path]:
    loaded = specmod.load(project, check_provider=False)
    snap = build_snapshot(loaded, fake, tmp_path / "staging")
    return snap.train.sha256, loaded.resolve(loaded.spec.data.train)


def _append(path: Path, rows: list[dict]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


def test_new_examples_are_counted_against_the_models_snapshot(project: Path, fake: FakeProvider,
                                                                tmp_path: Path, hashed: list[int]) -> None:
    sha, train = _snapshot(project, fake, tmp_path)
    cache = LocalCache(tmp_path / "cache")
    files = DataFiles(cache)
    same = files.change(str(train), sha, 300)
    assert same is not None and (same.added, same.removed, same.baseline) == (0, 0, "snapshot")
    files.flush()
    assert hashed[0] == 300

    _append(train, tickets(40, seed=99))
    hashed[0] = 0
    grown = DataFiles(cache).change(str(train), sha, 300)
    assert grown is not None and (grown.added, grown.removed, grown.examples) == (40, 0, 340)
    assert grown.digest != same.digest
    assert hashed[0] == 40  # only the appended lines were read and hashed


def test_an_unchanged_file_costs_no_hashing_on_the_next_tick(project: Path, fake: FakeProvider,
                                                             tmp_path: Path, hashed: list[int]) -> None:
    sha, train = _snapshot(project, fake, tmp_path)
    cache = LocalCache(tmp_path / "cache")
    first = DataFiles(cache)
    first.change(str(train), sha, 300)
    first.flush()
    hashed[0] = 0
    again = DataFiles(LocalCache(tmp_path / "cache")).change(str(train), sha, 300)
    assert again is not None and again.added == 0 and hashed[0] == 0


def test_edited_and_removed_examples_count_as_changed(project: Path, fake: FakeProvider, tmp_path: Path) -> None:
    sha, train = _snapshot(project, fake, tmp_path)
    lines = train.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[10] = lines[10].replace("billing", "account", 1)  # one edit: one example removed, one added
    del lines[20:50]  # 30 removed
    train.write_text("".join(lines), encoding="utf-8")
    change = DataFiles(LocalCache(tmp_path / "cache")).change(str(train), sha, 300)
    assert change is not None and (change.added, change.removed) == (1, 31)
    assert change.changed_fraction == pytest.approx(32 / 300)


def test_without_a_manifest_the_check_falls_back_to_counts(project: Path, tmp_path: Path) -> None:
    train = project.parent / "data" / "support-triage.train.jsonl"
    change = DataFiles(LocalCache(tmp_path / "cache")).change(str(train), "f" * 64, 250)
    assert change is not None and (change.added, change.removed, change.baseline) == (50, None, "count")


def test_a_job_without_a_model_has_every_example_new(project: Path, tmp_path: Path) -> None:
    train = project.parent / "data" / "support-triage.train.jsonl"
    change = DataFiles(LocalCache(tmp_path / "cache")).change(str(train), None)
    assert change is not None and (change.added, change.baseline) == (300, "none")
    assert DataFiles(LocalCache(None)).change(str(tmp_path / "missing.jsonl"), None) is None
