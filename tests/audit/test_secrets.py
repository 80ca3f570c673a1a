"""No secret reaches the ledger, its WAL, exports, logs or output: planted keys are searched for in
every byte a full quickstart and a keyed provider run leave behind."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from tuneops import audit
from tuneops.cli import main
from tuneops.clock import utcnow
from tuneops.provider import ProviderEvent, ProviderJob, RunStatus
from tuneops.runs.orchestrator import Orchestrator, ProviderPool
from tuneops.store import open_store, queries
from tuneops.store.tables import RunRow

PLANTED = {
    "OPENAI_API_KEY": "sk-planted-XYZ0123456789abcdefghijklmnopqrstuvwxyz",
    "TOGETHER_API_KEY": "tgp-planted-9f8e7d6c5b4a39281706",
    "MISTRAL_API_KEY": "mistral-planted-31415926535897932384",
    "FIREWORKS_API_KEY": "fw-planted-27182818284590452353",
    "AWS_SECRET_ACCESS_KEY": "aws-planted-wJalrXUtnFEMIK7MDENGbPxRfiCY",
    "HF_TOKEN": "hf_plantedabcdefghijklmnopqrstuvwx",
}


def _plant(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PLANTED.items():
        monkeypatch.setenv(name, value)


def _leaks(blob: bytes) -> list[str]:
    """Which planted keys appear in ``blob``, whole or by a distinctive tail."""
    found = []
    for name, value in PLANTED.items():
        for needle in (value, value[-16:]):
            if needle.encode() in blob:
                found.append(f"{name} ({needle[:12]}...)")
    return found


def _scan_tree(root: Path) -> dict[str, list[str]]:
    return {str(p.relative_to(root)): leaks for p in sorted(root.rglob("*"))
            if p.is_file() and (leaks := _leaks(p.read_bytes()))}


def _read_outputs(db: Path, out_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Every export and listing a reviewer might produce, written to files and captured."""
    for fmt in ("jsonl", "csv"):
        assert main(["--db", str(db), "audit", "export", "--format", fmt, "-o", str(out_dir / f"trail.{fmt}")]) == 0
    assert main(["--db", str(db), "audit", "export"]) == 0
    for argv in (["history", "--json", "--limit", "0"], ["audit", "log", "--limit", "0"],
                 ["audit", "verify"], ["runs", "list", "--json"]):
        assert main(["--db", str(db), *argv]) == 0, argv
    captured = capsys.readouterr()
    return captured.out + captured.err


def test_a_planted_key_never_leaves_the_environment_during_a_quickstart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    _plant(monkeypatch)
    caplog.set_level(logging.DEBUG)
    # quickstart points the process at its own sandbox; make sure that is undone after the test.
    monkeypatch.setenv("TUNEOPS_SANDBOX_URL", "http://127.0.0.1:9/v1")
    keep = tmp_path / "qs"
    assert main(["quickstart", "--keep", str(keep), "--time-scale", "50"]) == 0
    db = keep / ".tuneops" / "tuneops.db"
    assert db.exists()
    output = _read_outputs(db, tmp_path, capsys)
    assert "model.promoted" in (tmp_path / "trail.jsonl").read_text()

    assert _scan_tree(keep) == {}, "a planted key reached the project directory (ledger, WAL, staging)"
    assert _scan_tree(tmp_path) == {}, "a planted key reached an export"
    assert _leaks(output.encode()) == [], "a planted key was printed"
    assert _leaks(caplog.text.encode()) == [], "a planted key was logged"


def test_a_key_the_provider_really_sends_stays_out_of_the_ledger(
        project: Path, sandbox_env: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> None:
    _plant(monkeypatch)
    caplog.set_level(logging.DEBUG)
    # The OpenAI adapter, pointed at the sandbox, sends OPENAI_API_KEY on every request.
    monkeypatch.setenv("OPENAI_BASE_URL", sandbox_env.url)  # type: ignore[attr-defined]
    # No catalogued price for openai sandbox-mini, so the example's budget could not be checked.
    project.write_text(re.sub(r"\n\[budget\][^\[]*", "\n", project.read_text()))
    assert main(["submit", str(project), "--provider", "openai", "--watch", "--no-promote"]) == 0
    db = tmp_path / ".tuneops" / "tuneops.db"
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    output = _read_outputs(db, out_dir, capsys)
    assert '"provider":"openai"' in (out_dir / "trail.jsonl").read_text()
    assert _scan_tree(tmp_path) == {}
    assert _leaks(output.encode() + caplog.text.encode()) == []


def test_free_text_in_audit_details_is_scrubbed_of_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plant(monkeypatch)
    store = open_store()
    key = PLANTED["OPENAI_API_KEY"]
    with store.write() as s:
        row = audit.append(s, "run.failed", "run", "run_1", details={
            "error_message": f"401 Incorrect API key provided: {key}",
            "reason": "retry with Bearer abcdefghijklmnopqrstuvwxyz0123",
            "scores": {"note": f"copied {PLANTED['HF_TOKEN']}"}})
    details = json.loads(row.details)
    assert details["error_message"] == "401 Incorrect API key provided: [redacted]"
    assert details["reason"] == "retry with [redacted]"
    assert details["scores"] == {"note": "copied [redacted]"}
    assert audit.verify(store).ok
    store.close()
    assert _scan_tree(tmp_path) == {}


def test_an_unlisted_detail_key_is_refused_not_stored() -> None:
    store = open_store()
    with pytest.raises(ValueError, match="not allow-listed"), store.write() as s:
        audit.append(s, "run.admitted", "run", "run_1", details={"api_key": PLANTED["OPENAI_API_KEY"]})
    assert audit.verify(store).events == 0


class _KeyEchoingProvider:
    """A provider whose failure quotes the API key back, in the job, its raw JSON and an event."""

    def __init__(self, key: str):
        self.key = key

    def get(self, job_id: str) -> ProviderJob:
        message = f"Incorrect API key provided: {self.key}"
        return ProviderJob(job_id, RunStatus.FAILED, "failed", error_code="invalid_api_key", error_message=message,
                           raw={"id": job_id, "status": "failed", "error": {"message": message}})

    def events(self, job_id: str) -> list[ProviderEvent]:
        return [ProviderEvent("ev_1", utcnow(), "error", f"authentication failed for {self.key}",
                              {"header": f"Bearer {self.key}"})]

    def close(self) -> None:
        pass


def test_provider_text_quoting_a_key_is_scrubbed_before_it_is_stored(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    _plant(monkeypatch)
    key = PLANTED["OPENAI_API_KEY"]
    store = open_store()
    now = utcnow()
    with store.write() as s:
        s.add(RunRow(id="run_1", idempotency_key="tuneops-run_1", job_name="triage", spec_sha256="0" * 64,
                     spec_json=json.dumps({"name": "triage", "model": {"provider": "sandbox", "base": "m"},
                                           "data": {"train": "t.jsonl"}}),
                     provider="sandbox", base_model="m", method="sft", state="running", provider_job_id="ftjob-1",
                     train_sha256="1" * 64, created_at=now, updated_at=now))
    pool = ProviderPool()
    pool._cache["sandbox:{}"] = _KeyEchoingProvider(key)  # type: ignore[assignment]
    orch = Orchestrator(store, pool)
    run = orch.sync(orch.get("run_1"))
    assert run.state == "failed" and run.error_message == "Incorrect API key provided: [redacted]"
    with store.read() as s:
        messages = [e.message for e in queries.run_events(s, "run_1")]
    assert "authentication failed for [redacted]" in messages
    store.close()
    assert _scan_tree(tmp_path) == {}, "a key quoted by a provider reached the ledger"


def test_a_password_in_a_url_never_reaches_the_trail(tmp_path: Path) -> None:
    store = open_store()
    with store.write() as s:
        row = audit.append(s, "run.failed", "run", "run_1", details={
            "error_message": "POST https://svc:pa55word99@hooks.test/v1 refused"})
    assert json.loads(row.details)["error_message"] == "POST https://hooks.test/v1 refused"
    assert audit.verify(store).ok
    store.close()
