"""What a user sees on stderr while a submit checks, hashes and uploads its data: a bar per file on a
terminal, erased when done or failed; nothing on a pipe (one log line per step at -v); stdout untouched."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tuneops.cli import main
from tuneops.progress import size_text

BAR = "━"


def amount(size: int) -> str:
    """How a bar writes a file of ``size`` bytes sent in full: ``87.1/87.1 kB``."""
    number, unit = size_text(size).split(" ")
    return f"{number}/{number} {unit}"


def fresh_data(project: Path) -> tuple[Path, Path]:
    """Make the training and validation data this test's own (the session's sandbox keeps every file it
    was sent, and bytes it already holds are reused, not uploaded); returns the two files."""
    files = tuple(project.parent / "data" / f"support-triage.{name}.jsonl" for name in ("train", "valid"))
    for path in files:
        line = {"messages": [{"role": "user", "content": f"ticket {uuid.uuid4().hex}"},
                             {"role": "assistant", "content": "billing"}]}
        with path.open("a") as fh:
            fh.write(json.dumps(line) + "\n")
    return files  # type: ignore[return-value]


def sent_sizes() -> dict[str, int]:
    """Bytes of the prepared training and validation files of the newest run in the ledger."""
    from tuneops import api
    from tuneops.runs.orchestrator import staging_dir

    run = max(api.runs(), key=lambda r: r.created_at)
    return {kind: (staging_dir() / f"{sha}.jsonl").stat().st_size
            for kind, sha in (("train", run.train_sha256), ("valid", run.validation_sha256))}


def test_submit_on_a_terminal_shows_each_file_checked_hashed_and_uploaded_to_its_full_size(
        project: Path, sandbox_env: Any, capsys: pytest.CaptureFixture[str], terminal: Any) -> None:
    train, valid = fresh_data(project)
    with terminal:
        assert main(["submit", str(project)]) == 0
    sizes = sent_sizes()
    for verb, name, size in (("checking", train.name, train.stat().st_size),
                             ("hashing", train.name, train.stat().st_size),
                             ("checking", valid.name, valid.stat().st_size),
                             ("uploading", train.name, sizes["train"]),
                             ("uploading", valid.name, sizes["valid"])):
        lines = terminal.shown(f"{verb} {name}")
        assert any(amount(size) in line and BAR in line for line in lines), (verb, name, lines)
    assert terminal.shown(f"uploading {train.name} to sandbox ")
    assert terminal.shown("support-triage: submitting to sandbox")  # the spinner above the uploads
    assert not any(BAR in line or "uploading" in line for line in terminal.lines()), terminal.lines()
    assert capsys.readouterr().out.startswith("run run_")  # results stay on stdout, as before


def test_a_large_file_sent_in_parts_fills_one_bar(project: Path, sandbox_env: Any, terminal: Any) -> None:
    train, _ = fresh_data(project)
    spec = project.read_text() + ("\n[options.sandbox]\nupload_chunked_above_bytes = 1000\n"
                                  "upload_part_bytes = 16384\nupload_workers = 2\n")
    project.write_text(spec)
    with terminal:
        assert main(["submit", str(project)]) == 0
    size = sent_sizes()["train"]
    assert size > 5 * 16384  # several parts, sent two at a time
    lines = terminal.shown(f"uploading {train.name}")
    assert any(amount(size) in line for line in lines), lines
    assert all(BAR not in line for line in terminal.lines())


def test_on_a_pipe_submit_prints_no_progress_and_at_v_one_line_per_step(
        project: Path, sandbox_env: Any, capsys: pytest.CaptureFixture[str]) -> None:
    fresh_data(project)
    assert main(["submit", str(project)]) == 0
    err = capsys.readouterr().err
    assert "\x1b" not in err and BAR not in err
    assert not any(word in err for word in ("checking", "hashing", "uploading", "snapshot")), err

    train, valid = fresh_data(project)
    assert main(["-v", "submit", str(project)]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert not any("\x1b" in line or BAR in line for line in lines)
    sizes = sent_sizes()
    assert [line for line in lines if "uploading" in line] == [
        f"INFO tuneops.progress: uploading {train.name} to sandbox ({size_text(sizes['train'])})",
        f"INFO tuneops.progress: uploading {valid.name} to sandbox ({size_text(sizes['valid'])})"]
    assert sum(f"checking {train.name} (" in line for line in lines) == 1


def test_json_on_stdout_is_the_same_with_bars_on_stderr(project: Path, sandbox_env: Any,
                                                       capsys: pytest.CaptureFixture[str], terminal: Any) -> None:
    fresh_data(project)
    with terminal:
        assert main(["submit", str(project), "--json"]) == 0
    out = capsys.readouterr().out
    run = json.loads(out)  # one JSON document, no control characters drawn into it
    assert run["outcome"] == "new" and "\x1b" not in out
    assert terminal.shown("uploading")  # the bars were there, on stderr


def test_a_failed_upload_leaves_no_bar_behind_and_says_what_failed(
        project: Path, monkeypatch: pytest.MonkeyPatch, terminal: Any) -> None:
    from tuneops import retry
    from tuneops.sandbox import SandboxServer
    from tuneops.sandbox.faults import FaultConfig

    monkeypatch.setattr(retry, "DEFAULT_POLICY", retry.RetryPolicy(attempts=2, base_seconds=0.01,
                                                                   max_backoff_seconds=0.02))
    train, _ = fresh_data(project)
    with SandboxServer(faults=FaultConfig(rate_5xx=1.0, routes=("POST /v1/files",))) as broken:
        monkeypatch.setenv("TUNEOPS_SANDBOX_URL", broken.url)
        with terminal:
            assert main(["submit", str(project)]) == 1
    assert terminal.shown(f"uploading {train.name} to sandbox")  # it was on screen while sending
    screen = terminal.lines()
    assert not any(BAR in line or "uploading" in line or "submitting" in line for line in screen), screen
    errors = [line for line in screen if line.startswith("error: ")]
    assert errors and "upload" in " ".join(screen) and "tuneops submit" in " ".join(screen), screen


def test_quiet_draws_nothing_on_a_terminal(project: Path, sandbox_env: Any, terminal: Any) -> None:
    fresh_data(project)
    with terminal:
        assert main(["-q", "submit", str(project)]) == 0
    assert terminal.screens == []  # not a character: -q keeps stderr to errors


def upload_with_bars(provider: Any, tmp_path: Path, terminal: Any) -> int:
    """Upload a prepared sample file, named train.jsonl as a run names it, through ``provider`` with bars
    drawn on ``terminal``; its size."""
    from tuneops import progress
    from tuneops.cli import bars
    from tuneops.testing import prepared_file

    path, digest = prepared_file(provider, tmp_path)
    with terminal, bars.shown(), progress.named("train.jsonl"):
        provider.upload(path, sha256=digest)
    return path.stat().st_size


def test_an_upload_to_a_hosted_api_fills_its_bar(tmp_path: Path, terminal: Any) -> None:
    import httpx
    import respx

    from tuneops.provider import ProviderConfig
    from tuneops.providers.mistral import MistralProvider

    received: list[int] = []

    def files(request: httpx.Request) -> httpx.Response:
        received.append(len(request.read()))
        return httpx.Response(200, json={"id": "f-1", "object": "file", "bytes": received[-1],
                                         "filename": "x.jsonl", "purpose": "fine-tune"})

    with respx.mock(base_url="https://api.mistral.ai/v1", assert_all_called=True) as api:
        api.post("/files").mock(side_effect=files)
        provider = MistralProvider(ProviderConfig(env={"MISTRAL_API_KEY": "ms-test-key-0123456789"}))
        size = upload_with_bars(provider, tmp_path, terminal)
    assert received and received[0] > size  # the multipart body carried the whole file
    lines = terminal.shown("uploading train.jsonl to mistral ")
    assert any(amount(size) in line for line in lines), lines
    assert terminal.lines() == []  # erased once sent


def test_an_upload_to_s3_for_bedrock_fills_its_bar(tmp_path: Path, terminal: Any) -> None:
    pytest.importorskip("boto3")
    from moto import mock_aws

    from tuneops.provider import ProviderConfig
    from tuneops.providers.bedrock import BedrockProvider

    env = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret-0123456789",
           "AWS_REGION": "us-east-1"}
    with mock_aws():
        provider = BedrockProvider(ProviderConfig(env=env, options={
            "role_arn": "arn:aws:iam::123456789012:role/BedrockCustomization", "bucket": "tuneops-data"}))
        provider.s3.create_bucket(Bucket="tuneops-data")
        size = upload_with_bars(provider, tmp_path, terminal)
        provider.close()
    lines = terminal.shown("uploading train.jsonl to s3://tuneops-data ")
    assert any(amount(size) in line for line in lines), lines
    assert terminal.lines() == []
