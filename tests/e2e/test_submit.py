"""The walking skeleton end to end: a spec on disk becomes a model id, recorded in the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tuneops.cli import main
from tuneops.store import open_store
from tuneops.store.tables import AuditEventRow, RunRow, UploadRow


def _counts(db: Path | None = None) -> tuple[int, int, int]:
    store = open_store(str(db) if db else None)
    with store.read() as s:
        return tuple(s.exec(select(func.count()).select_from(t)).scalar_one()  # type: ignore[call-overload]
                     for t in (RunRow, UploadRow, AuditEventRow))


def test_submit_watch_ends_with_a_model_recorded_in_runs_and_history(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["state"] == "succeeded"
    assert run["model_id"].startswith("ft:sandbox-mini:")
    assert run["provider_job_id"] and run["trained_tokens"] > 0

    assert main(["runs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in listed] == [run["id"]]

    assert main(["history", "--json"]) == 0
    actions = [e["action"] for e in json.loads(capsys.readouterr().out)]
    assert {"run.admitted", "upload.created", "run.submitted", "run.succeeded"} <= set(actions)

    assert main(["runs", "show", run["id"][:12]]) == 0
    shown = capsys.readouterr().out
    assert run["model_id"] in shown and "status history" in shown


def test_the_same_data_is_uploaded_once(project: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.sandbox import SandboxServer

    with SandboxServer(time_scale=20.0) as fresh:  # its own sandbox: no files from other tests
        monkeypatch.setenv("TUNEOPS_SANDBOX_URL", fresh.url)
        assert main(["submit", str(project), "--no-promote"]) == 0
        # Another seed is another intent (a second run) on the same data.
        project.write_text(project.read_text().replace("seed = 7", "seed = 8"))
        assert main(["submit", str(project), "--no-promote"]) == 0
        uploads = [f for f in fresh.state.files.files.values() if f.purpose == "fine-tune"]
    # training + validation file, once each, for two runs (counted as files the sandbox holds)
    assert len(uploads) == 2
    assert _counts()[:2] == (2, 2)


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t + '\nunknown_field = 1\n', "unknown_field: unknown field"),
    (lambda t: t.replace("epochs = 3", 'epochs = "three"'), "hyperparameters.epochs"),
    (lambda t: t.replace("support-triage.train.jsonl", "nope.jsonl"), "data.train"),
    (lambda t: t.replace('provider = "sandbox"', 'provider = "acme"'), "unknown provider 'acme'"),
])
def test_a_bad_spec_is_one_clear_error_and_writes_nothing(
        project: Path, sandbox_env: object, requests_at, capsys: pytest.CaptureFixture[str], edit,
        expected: str) -> None:
    project.write_text(edit(project.read_text()))
    before = requests_at("POST /v1/files")
    assert main(["submit", str(project)]) != 0
    err = capsys.readouterr().err
    assert expected in err and "support-triage.toml" in err
    assert "Traceback" not in err
    assert _counts() == (0, 0, 0)
    assert requests_at("POST /v1/files") == before


def test_a_missing_api_key_names_the_variable_and_writes_nothing(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--provider", "openai"]) != 0
    err = capsys.readouterr().err
    assert "OPENAI_API_KEY" in err and "Traceback" not in err
    assert _counts() == (0, 0, 0)


def test_cancel_stops_a_running_job(project: Path, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.sandbox import SandboxServer

    with SandboxServer(time_scale=0.05) as slow:  # slow enough that the job is still in flight
        monkeypatch.setenv("TUNEOPS_SANDBOX_URL", slow.url)
        assert main(["submit", str(project), "--json", "--no-promote"]) == 0
        run = json.loads(capsys.readouterr().out)
        assert main(["runs", "cancel", run["id"]]) == 0
        capsys.readouterr()
        assert main(["runs", "show", run["id"], "--json"]) == 0
        shown = json.loads(capsys.readouterr().out)
    assert shown["state"] in ("cancelled", "cancelling")
    assert any("cancel" in e["message"] for e in shown["events"])
