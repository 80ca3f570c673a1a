"""The three everyday sequences of issue 14, run as a user would and counted at the sandbox: a submit
that failed because the provider was down, a submit of an unchanged spec, and a sandbox restart."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tuneops.cli import main


def _db_bytes(root: Path) -> str:
    """The SQLite ledger's bytes (and its WAL's, when there is one), hashed."""
    digest = hashlib.sha256()
    for name in ("tuneops.db", "tuneops.db-wal"):
        path = root / ".tuneops" / name
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err, out + err
    return code, out, err


def test_a_submit_that_found_the_provider_down_is_resumed_not_repeated(
        small_project: Path, sandboxes: Any, invariants: Any, runs_in_ledger: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandboxes.stop()
    code, _, err = _run(["submit", str(small_project), "--no-promote"], capsys)
    assert code == 1
    # It says which URL it tried, that the sandbox may not be running, once per retry, and how to go on.
    assert sandboxes.url in err and "tuneops sandbox serve" in err
    assert err.count("retry:") == 2  # FAST: three attempts, two retries
    [run] = runs_in_ledger()
    assert run.state == "admitted" and run.id in err and "resumes this run" in err

    sandboxes.start()
    code, out, _ = _run(["submit", str(small_project), "--no-promote", "--json"], capsys)
    assert code == 0
    again = json.loads(out)
    assert (again["id"], again["outcome"]) == (run.id, "resumed")
    assert again["idempotency_key"] == run.idempotency_key and again["provider_job_id"]
    code, _, _ = _run(["sync", "--no-promote"], capsys)
    assert code == 0
    assert [r.id for r in runs_in_ledger()] == [run.id]
    assert sum(len(j) for j in invariants(sandboxes).values()) == 1


def test_sync_alone_finishes_a_run_whose_submit_found_the_provider_down(
        small_project: Path, sandboxes: Any, invariants: Any, runs_in_ledger: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    sandboxes.stop()
    assert _run(["submit", str(small_project), "--no-promote"], capsys)[0] == 1
    code, _, err = _run(["sync", "--no-promote"], capsys)
    assert code == 1 and "skipped:" in err and sandboxes.url in err
    sandboxes.start()
    assert _run(["sync", "--no-promote"], capsys)[0] == 0
    [run] = runs_in_ledger()
    assert run.provider_job_id
    assert len(invariants(sandboxes)) == 1


def test_an_unchanged_succeeded_spec_is_no_changes_and_writes_nothing(
        small_project: Path, sandboxes: Any, invariants: Any, runs_in_ledger: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["submit", str(small_project), "--watch", "--no-promote", "--json"], capsys)
    first = json.loads(out)
    assert code == 0 and first["state"] == "succeeded"
    before, creates = _db_bytes(Path.cwd()), sandboxes.requests("POST /v1/fine_tuning/jobs")

    code, out, _ = _run(["submit", str(small_project), "--no-promote"], capsys)
    assert code == 0
    assert "no changes" in out and first["id"] in out and first["model_id"] in out and "--again" in out
    # A description, an eval set or a budget is not what gets trained: still no changes.
    small_project.write_text(small_project.read_text().replace("per_run_usd = 25.0", "per_run_usd = 30.0")
                             .replace('"Route support tickets', '"Route tickets'))
    code, out, _ = _run(["submit", str(small_project), "--no-promote"], capsys)
    assert code == 0 and "no changes" in out
    code, out, _ = _run(["plan", str(small_project)], capsys)
    assert code == 0 and "reused, verified" in out and "no changes since run" in out
    assert _db_bytes(Path.cwd()) == before
    assert sandboxes.requests("POST /v1/fine_tuning/jobs") == creates

    code, out, _ = _run(["submit", str(small_project), "--no-promote", "--again", "--reason",
                         "retrain after the base model update", "--json"], capsys)
    second = json.loads(out)
    assert code == 0 and second["id"] != first["id"] and second["outcome"] == "new"
    assert len(runs_in_ledger()) == 2
    assert _run(["history", "--json"], capsys)[0] == 0
    code, out, _ = _run(["history", "--json"], capsys)
    admitted = [e for e in json.loads(out) if e["action"] == "run.admitted" and e["subject_id"] == second["id"]]
    assert admitted[0]["details"]["again_reason"] == "retrain after the base model update"
    # --again without a reason is a usage error, not a run.
    code, _, err = _run(["submit", str(small_project), "--again"], capsys)
    assert code == 2 and "--reason" in err and len(runs_in_ledger()) == 2


def test_a_changed_hyperparameter_is_a_new_intent(
        small_project: Path, sandboxes: Any, invariants: Any, runs_in_ledger: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["submit", str(small_project), "--no-promote"], capsys)[0] == 0
    small_project.write_text(small_project.read_text().replace("epochs = 3", "epochs = 2"))
    code, out, _ = _run(["plan", str(small_project), "--json"], capsys)
    plan = json.loads(out)
    assert code == 0
    assert plan["would"] == "start a new run"
    assert {u["action"] for u in plan["uploads"]} == {"reused, verified"}
    assert plan["create_request"]["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2
    assert plan["estimate"]["epochs"] == 2 and plan["budget"] == "ok"
    assert _run(["submit", str(small_project), "--no-promote"], capsys)[0] == 0
    assert len({r.intent_key for r in runs_in_ledger()}) == 2
    assert sandboxes.requests("POST /v1/files") == 2  # the same data, uploaded once
    assert len(invariants(sandboxes)) == 2


def test_plan_and_dry_run_on_a_new_project_write_no_ledger(small_project: Path, sandboxes: Any,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["plan", str(small_project)], ["submit", str(small_project), "--dry-run"]):
        code, out, _ = _run(args, capsys)
        assert code == 0
        assert "would: start a new run" in out and "training data" in out and ": upload" in out
        assert '"training_file": "<file id of the training upload>"' in out and "estimate:" in out
    assert not (Path.cwd() / ".tuneops" / "tuneops.db").exists()
    assert sandboxes.requests("POST /v1/files") == 0


def test_a_restarted_sandbox_gets_the_data_again_and_never_a_reused_id(
        small_project: Path, sandboxes: Any, invariants: Any, runs_in_ledger: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["submit", str(small_project), "--watch", "--no-promote", "--json"], capsys)
    first = json.loads(out)
    first_files = {j[0] for j in sandboxes.jobs()}
    sandboxes.restart()  # everything it held is gone; it must not hand out the same ids again
    code, out, _ = _run(["submit", str(small_project), "--watch", "--no-promote", "--json", "--again",
                         "--reason", "sandbox restarted"], capsys)
    second = json.loads(out)
    assert code == 0 and second["state"] == "succeeded"
    assert second["provider_job_id"] not in first_files and second["model_id"] != first["model_id"]
    assert sandboxes.requests("POST /v1/files") == 2  # the recorded files were gone: uploaded again
    invariants(sandboxes)
    code, out, _ = _run(["runs", "show", second["id"], "--events", "200"], capsys)
    assert "is gone or changed" in out and "uploading the data again" in out
    assert _run(["sync"], capsys)[0] == 0
    code, _, err = _run(["runs", "cancel", second["id"]], capsys)
    assert code != 0 and "already succeeded" in err


def test_a_job_the_restarted_sandbox_lost_fails_its_run_with_a_way_out(
        small_project: Path, sandboxes: Any, runs_in_ledger: Any, capsys: pytest.CaptureFixture[str]) -> None:
    sandboxes.stop()
    sandboxes.time_scale = 0.01  # the job stays in flight
    sandboxes.start()
    code, out, _ = _run(["submit", str(small_project), "--no-promote", "--json"], capsys)
    run = json.loads(out)
    assert run["provider_job_id"]
    sandboxes.restart()
    code, _, err = _run(["sync"], capsys)
    [row] = runs_in_ledger()
    assert row.state == "failed" and row.error_code == "provider_job_missing"
    code, _, err = _run(["submit", str(small_project), "--no-promote"], capsys)
    assert code == 1 and run["id"] in err and "no longer exists" in err and "--again" in err
    code, out, _ = _run(["submit", str(small_project), "--no-promote", "--again", "--reason", "lost", "--json"],
                        capsys)
    assert code == 0 and json.loads(out)["id"] != run["id"]


def test_a_submit_killed_after_upload_leaves_no_second_upload(
        small_project: Path, sandboxes: Any, invariants: Any, runs_in_ledger: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    import multiprocessing
    import os

    def child() -> None:
        os.environ["TUNEOPS_CRASH_AT"] = "after-upload"  # killed before the upload is recorded
        os._exit(main(["submit", str(small_project), "--no-promote"]))

    proc = multiprocessing.get_context("fork").Process(target=child)
    proc.start()
    proc.join(120)
    assert proc.exitcode == -9
    assert sandboxes.requests("POST /v1/files") == 1  # the training file got there; the ledger never heard
    code, out, _ = _run(["submit", str(small_project), "--no-promote"], capsys)
    assert code == 0 and "resuming run" in out
    # The orphaned training file is found at the provider and reused; only the validation file is new.
    assert sandboxes.requests("POST /v1/files") == 2
    [run] = runs_in_ledger()
    code, out, _ = _run(["runs", "show", run.id, "--events", "200"], capsys)
    assert "found at the provider" in out
    assert len(invariants(sandboxes)) == 1


def test_a_job_the_provider_refuses_is_reported_by_submit_itself(
        small_project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops import registry
    from tuneops.testing import FakeBackend, FakeProvider

    backend = FakeBackend()
    backend.failures["create"] = [(400, None)]
    undo = registry.register("fake", lambda config: FakeProvider(config, backend=backend))
    text = small_project.read_text()
    small_project.write_text(text[:text.index("[budget]")])  # the fake has no price: no budget to check
    try:
        code, out, err = _run(["submit", str(small_project), "--provider", "fake", "--no-promote"], capsys)
        assert code == 1 and "fake refused the job: fake create: HTTP 400" in out
        code, out, err = _run(["submit", str(small_project), "--provider", "fake", "--no-promote"], capsys)
    finally:
        undo()
    assert code == 1 and "failed at fake: fake create: HTTP 400" in err and "--again --reason" in err


def test_a_lost_upload_answer_and_a_slow_provider_respect_the_timeout(
        small_project: Path, sandboxes: Any, runs_in_ledger: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    import time

    from tuneops.sandbox import FaultConfig

    # Each upload arrives, but its answer is held longer than the timeout allows.
    sandboxes.server.configure_faults(FaultConfig(rate_slow=1.0, slow_delay=3.0, routes=["POST /v1/files"]))
    started = time.monotonic()
    code, _, err = _run(["submit", str(small_project), "--no-promote", "--timeout", "0.5"], capsys)
    sandboxes.server.configure_faults(FaultConfig())
    assert time.monotonic() - started < 20
    assert code == 0, err
    assert err.count("retry:") >= 2 and "timed out" in err.lower()
    # Two files, each sent once: the retries found what the lost answers had uploaded.
    assert sandboxes.requests("POST /v1/files") == 2
    [run] = runs_in_ledger()
    assert run.provider_job_id
    code, _, err = _run(["sync", "--timeout", "nope"], capsys)
    assert code == 2 and "--timeout" in err
    monkeypatch.setenv("TUNEOPS_HTTP_TIMEOUT", "soon")
    code, _, err = _run(["sync"], capsys)
    assert code == 1 and "TUNEOPS_HTTP_TIMEOUT='soon'" in err and "positive number of seconds" in err
