"""Snapshots: nothing is written when preflight finds errors; the split is deterministic by seed;
the snapshot hash is the sha256 of exactly the bytes that will be uploaded."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tuneops.datasets import build_snapshot
from tuneops.datasets.convert import convert
from tuneops.datasets.preflight import preflight
from tuneops.datasets.split import split_indexes, validation_size
from tuneops.errors import DatasetError
from tuneops.provider import Capabilities


class Prep:
    """The part of a provider that build_snapshot uses: name, capabilities and prepare()."""

    def __init__(self, name: str = "sandbox", fmt: str = "openai_chat"):
        self.name = name
        self.capabilities = Capabilities(methods=frozenset({"sft", "dpo"}), data_format=fmt, min_examples=10)

    def prepare(self, records: Iterable[Mapping[str, Any]], method: str) -> Iterator[bytes]:
        return convert(records, self.capabilities.data_format, method)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_errors_raise_dataset_error_listing_them_and_write_nothing(write_spec, ds, tmp_path: Path) -> None:
    lines = [*ds.good(20), b'{"messages": 5}\n', ds.line({"messages": [{"role": "user", "content": "x"}]})]
    stage = tmp_path / "stage"
    with pytest.raises(DatasetError) as info:
        build_snapshot(write_spec(lines), Prep(), stage)
    msg = str(info.value)
    assert "data/train.jsonl:21: messages: messages must be a list" in msg
    assert "data/train.jsonl:22: messages: no assistant message" in msg
    assert "nothing was written" in msg and len(info.value.findings) == 2
    assert not stage.exists() or not any(stage.iterdir())


def test_snapshot_is_named_by_the_sha256_of_the_prepared_bytes(write_spec, ds, tmp_path: Path) -> None:
    lines = [b"\xef\xbb\xbf" + ds.good(1)[0], *ds.good(29, start=1)]
    lines[5] = lines[5][:-1] + b"\r\n"
    snap = build_snapshot(write_spec(lines), Prep(), tmp_path / "stage")
    data = snap.train.path.read_bytes()
    assert snap.train.sha256 == hashlib.sha256(data).hexdigest()
    assert snap.train.path.name == f"{snap.train.sha256}.jsonl"
    assert snap.train.bytes == len(data) and snap.train.examples == snap.examples == 30
    assert not data.startswith(b"\xef\xbb\xbf") and b"\r\n" not in data  # BOM and CRLF are not sent
    assert snap.validation is None and snap.token_count_exact
    assert all(f.severity != "error" for f in snap.findings)
    again = build_snapshot(write_spec(lines), Prep(), tmp_path / "stage")
    assert again.train.sha256 == snap.train.sha256


def test_split_is_deterministic_by_seed_and_sizes_add_up(write_spec, ds, tmp_path: Path) -> None:
    spec = write_spec(ds.good(50), data={"validation_split": 0.2, "split_seed": 7})
    a = build_snapshot(spec, Prep(), tmp_path / "a")
    b = build_snapshot(spec, Prep(), tmp_path / "b")
    assert (a.train.sha256, a.validation.sha256) == (b.train.sha256, b.validation.sha256)
    assert (a.train.examples, a.validation.examples, a.examples) == (40, 10, 40)
    train, valid = _lines(a.train.path), _lines(a.validation.path)
    assert not {json.dumps(x) for x in train} & {json.dumps(x) for x in valid}
    other = build_snapshot(write_spec(ds.good(50), data={"validation_split": 0.2, "split_seed": 8}), Prep(),
                           tmp_path / "c")
    assert other.validation.sha256 != a.validation.sha256
    assert a.tokens == sum(a.report.stats["split"]["train"]["tokens"]["billed_per_epoch"] for _ in [0])


def test_split_keeps_near_duplicates_on_one_side() -> None:
    keys = [i // 2 for i in range(200)]  # pairs of near-duplicates
    chosen = split_indexes(keys, 0.3, seed=1)
    assert all((i in chosen) == (i ^ 1 in chosen) for i in range(200))
    assert validation_size(1, 0.2) == 0 and validation_size(3, 0.1) == 1 and validation_size(10, 0.49) == 5


def test_split_stays_put_when_the_data_grows() -> None:
    keys = list(range(1000))
    before = split_indexes(keys, 0.1, seed=3)
    after = split_indexes([*keys, *range(10_000, 10_010)], 0.1, seed=3)
    assert len(before - after) <= 5  # appending 1% moves few existing examples across


def test_validation_file_is_prepared_too(write_spec, ds, tmp_path: Path) -> None:
    snap = build_snapshot(write_spec(ds.good(20), ds.good(5, start=100)), Prep(), tmp_path / "s")
    assert snap.validation is not None and snap.validation.examples == 5


def test_gemini_provider_gets_gemini_lines(write_spec, ds, tmp_path: Path) -> None:
    snap = build_snapshot(write_spec(ds.good(12), provider="vertex", base="gemini-2.5-flash",
                                     extra="[options.vertex]\nbucket = \"b\"\n"),
                          Prep("vertex", "gemini"), tmp_path / "s")
    first = _lines(snap.train.path)[0]
    assert set(first) == {"systemInstruction", "contents"}
    assert not snap.token_count_exact


def test_preference_data_for_dpo(write_spec, ds, tmp_path: Path) -> None:
    pref = [ds.line({"input": {"messages": [{"role": "user", "content": f"question {i}"}]},
                     "preferred_output": [{"role": "assistant", "content": f"good answer {i}"}],
                     "non_preferred_output": [{"role": "assistant", "content": f"bad answer {i}"}]})
            for i in range(15)]
    loaded = write_spec(pref, method="dpo")
    report = preflight(loaded)
    assert report.ok, [str(f) for f in report.errors()]
    snap = build_snapshot(loaded, Prep(), tmp_path / "s")
    assert snap.examples == 15 and snap.trainable_tokens > 0
    assert set(_lines(snap.train.path)[0]) == {"input", "preferred_output", "non_preferred_output"}


def test_prepared_file_over_the_upload_limit_is_refused(write_spec, ds, tmp_path: Path) -> None:
    prep = Prep()
    prep.capabilities = Capabilities(methods=frozenset({"sft"}), max_upload_bytes=500, min_examples=1)
    from tuneops import registry

    undo = registry.register("tiny", lambda config=None: prep)
    try:
        prep.name = "tiny"
        with pytest.raises(DatasetError, match="upload limit"):
            build_snapshot(write_spec(ds.good(12)), prep, tmp_path / "s")
    finally:
        undo()


def test_snapshot_manifest_holds_the_content_key_of_every_training_line(write_spec, ds, tmp_path: Path) -> None:
    from tuneops.datasets.cache import SnapshotCache
    from tuneops.datasets.reader import line_key

    lines = ds.good(30)
    snap = build_snapshot(write_spec(lines, data={"validation_split": 0.2}), Prep(), tmp_path / "s",
                          cache_dir=tmp_path / "cache")
    cache = SnapshotCache(tmp_path / "cache")
    manifest = cache.get_manifest(snap.train.sha256)
    cache.close()
    # The scheduler compares these keys with the file's lines to count new examples (split or not).
    assert manifest == b"".join(line_key(x)[:8] for x in lines)
