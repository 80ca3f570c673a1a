"""tuneops.progress: what a watcher hears of the steps that move bytes (checking, hashing, uploading a
dataset), and that nobody watching costs nothing but a log line."""

from __future__ import annotations

import doctest
import io
import json
import logging
from pathlib import Path

import pytest

from tuneops import progress
from tuneops.testing import FakeProvider, StepRecorder, prepared_file


class Counting(StepRecorder):
    """A recorder that also counts how often it was told about bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def advance(self, step: progress.Step, n: int) -> None:
        self.calls += 1


def test_the_module_docstring_example_runs() -> None:
    assert doctest.testmod(progress).failed == 0


def test_with_nobody_watching_an_upload_reads_the_plain_file_and_logs_one_line(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b"x" * 1500)
    with caplog.at_level(logging.INFO, "tuneops.progress"), progress.open_upload(path, to="openai") as fh:
        assert isinstance(fh, io.BufferedReader) and fh.read() == b"x" * 1500
    assert [r.getMessage() for r in caplog.records] == ["uploading train.jsonl to openai (1.5 kB)"]


def test_a_sender_that_rewinds_to_retry_counts_each_byte_once(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(bytes(range(256)) * 4000)  # 1,024,000 bytes
    recorder = StepRecorder()
    with progress.reporting(recorder), progress.open_upload(path, to="together") as fh:
        fh.read(700_000)
        fh.seek(0)  # the first attempt failed half way; the HTTP client sends again from the start
        while fh.read(65_536):
            pass
    (step,) = recorder.steps
    assert (step.description, step.total, step.done) == ("uploading train.jsonl to together", 1_024_000, 1_024_000)


def test_many_small_reads_reach_the_watcher_in_few_calls_and_add_up_exactly(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"a": 1}\n' * 200_000)  # 1.8 MB read a line at a time
    recorder = Counting()
    with progress.reporting(recorder), progress.open_upload(path, to="mistral") as fh:
        for _ in fh:
            pass
    assert recorder.steps[0].done == 1_800_000
    assert recorder.calls <= 30  # every 64 KiB, not 200,000 times


def test_a_failed_step_is_reported_failed_and_its_error_goes_on(tmp_path: Path) -> None:
    recorder = StepRecorder()
    with (pytest.raises(OSError, match="connection reset"), progress.reporting(recorder),
          progress.step("uploading", "train.jsonl", 10, target="vertex") as advance):
        advance(4)
        raise OSError("connection reset")
    assert recorder.failed == recorder.steps and recorder.steps[0].done == 4


def test_preflight_and_snapshot_report_every_byte_of_each_data_file(project: Path) -> None:
    from tuneops import spec as specmod
    from tuneops.datasets import build_snapshot

    data = project.parent / "data"
    recorder = StepRecorder()
    with progress.reporting(recorder):
        build_snapshot(specmod.load(project), FakeProvider(), project.parent / "stage")
    steps = {s.description: (s.total, s.done) for s in recorder.steps}
    for name in ("train", "valid", "eval"):
        size = (data / f"support-triage.{name}.jsonl").stat().st_size
        assert steps[f"checking support-triage.{name}.jsonl"] == (size, size)
    for name in ("train", "valid"):
        size = (data / f"support-triage.{name}.jsonl").stat().st_size
        assert steps[f"hashing support-triage.{name}.jsonl"] == (size, size)


def test_a_file_that_only_grew_is_checked_from_where_it_was_and_still_reaches_its_size(project: Path) -> None:
    from tuneops import api

    train = project.parent / "data" / "support-triage.train.jsonl"
    api.validate(project)
    with train.open("a") as fh:
        fh.write(json.dumps({"messages": [{"role": "user", "content": "one more ticket"},
                                          {"role": "assistant", "content": "billing"}]}) + "\n")
    recorder = StepRecorder()
    with progress.reporting(recorder):
        api.validate(project)
    step = next(s for s in recorder.steps if s.description == f"checking {train.name}")
    assert step.total == step.done == train.stat().st_size


def test_the_local_provider_reports_copying_into_its_file_store(tmp_path: Path) -> None:
    from tuneops.provider import ProviderConfig
    from tuneops.providers.local import LocalProvider

    provider = LocalProvider(ProviderConfig(options={"base_model_dir": str(tmp_path)}))
    path, digest = prepared_file(provider, tmp_path)
    recorder = StepRecorder()
    with progress.reporting(recorder), progress.named("train.jsonl"):
        provider.upload(path, sha256=digest)
    (step,) = recorder.steps
    assert (step.description, step.done) == ("uploading train.jsonl to local", path.stat().st_size)
