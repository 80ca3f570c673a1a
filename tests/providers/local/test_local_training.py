"""The local provider end to end on a tiny model: real detached training, loss curves, eval, promotion.

The training processes run with a socket guard of their own (netguard/sitecustomize.py), so a
connection to anything but loopback from any process of these tests is recorded and fails the test.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.providers.local.jobs import JobDir

pytestmark = [pytest.mark.local, pytest.mark.slow]
GUARD = Path(__file__).with_name("netguard")


@pytest.fixture
def offline_children(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Training processes inherit a socket guard that records blocked connections in the returned file."""
    log = tmp_path / "blocked-connections.log"
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(GUARD), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("TUNEOPS_TEST_NET_LOG", str(log))
    return log


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> object:
    assert main([*args, "--json"]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _jobs(root: Path) -> list[JobDir]:
    return [JobDir(p.parent) for p in sorted((root / ".tuneops" / "local" / "jobs").glob("*/job.json"))]


def test_submit_trains_detached_then_eval_beats_base_and_promotes(
        tmp_path: Path, tiny_project, offline_children: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tiny_project(steps=300, every=25)
    run = _json(capsys, "submit", str(spec))
    assert run["provider"] == "local" and run["state"] in ("queued", "running")  # type: ignore[index]
    (job,) = _jobs(tmp_path)
    launched = job.launched()
    assert launched and launched["pid"] != os.getpid()  # a process of its own, detached from this one

    assert main(["runs", "watch", run["id"], "--interval", "0.5"]) == 0  # type: ignore[index]
    capsys.readouterr()
    done = _json(capsys, "runs", "show", run["id"])  # type: ignore[index]
    assert done["state"] == "succeeded"  # type: ignore[index]
    model_id = done["model_id"]  # type: ignore[index]
    adapter = job.status()["adapter"]
    assert model_id == f"local:{job.name}:{adapter['sha256']}"
    assert "adapter_model.safetensors" in adapter["files"]

    curves = _json(capsys, "runs", "metrics", run["id"])  # type: ignore[index]
    train, valid = curves["series"]["train_loss"], curves["series"]["valid_loss"]  # type: ignore[index]
    assert len(train) == 300 and len(valid) >= 10
    assert train[-1][1] < train[0][1] / 10 and valid[-1][1] < valid[0][1]

    evals = _json(capsys, "eval", "list")
    scores = {e["model"]: e["scores"]["exact_match"] for e in evals}  # type: ignore[union-attr,index]
    assert scores[model_id] >= 0.9, scores
    assert scores["tiny-chat"] <= 0.5, scores
    cmp = _json(capsys, "eval", "compare", "tiny-chat", model_id)
    assert cmp["delta"] >= 0.4  # type: ignore[index]

    (model,) = _json(capsys, "models", "list")  # type: ignore[misc]
    assert model["model"] == model_id and model["aliases"] == ["triage@production"]
    actions = [e["action"] for e in _json(capsys, "history")]  # type: ignore[union-attr,index]
    assert {"run.admitted", "run.submitted", "run.succeeded", "eval.completed", "model.promoted"} <= set(actions)

    merged = tmp_path / "merged"
    assert main(["export", model_id, "--merged", str(merged)]) == 0
    assert (merged / "model.safetensors").is_file() and (merged / "tokenizer.json").is_file()
    assert main(["export", "triage@production", "--merged", str(merged)]) == 2  # never over a user's files
    assert "not an empty directory" in capsys.readouterr().err
    assert not offline_children.exists(), offline_children.read_text()


def _wait(predicate, timeout: float = 300.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_a_training_process_killed_mid_run_is_reported_failed_with_its_reason(
        tmp_path: Path, tiny_project, offline_children: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tiny_project(steps=5000, every=1000, train=60)
    run = _json(capsys, "submit", str(spec), "--no-promote")
    (job,) = _jobs(tmp_path)
    _wait(lambda: len(job.metrics_file.read_text().splitlines()) >= 3 if job.metrics_file.exists() else False)
    os.kill(int(job.status()["pid"]), signal.SIGKILL)
    _wait(lambda: not job.alive(), 30)

    synced = _json(capsys, "sync", "--no-promote")
    (failed,) = synced  # type: ignore[misc]
    assert failed["state"] == "failed"
    assert "ended without a final status" in failed["error_message"] and str(job.status()["pid"]) in \
        failed["error_message"]
    assert _json(capsys, "sync", "--no-promote") == []  # nothing left to reconcile
    assert len(_jobs(tmp_path)) == 1 and job.status()["status"] == "failed"
    assert run["id"] == failed["id"]  # type: ignore[index]


def test_cancel_stops_the_training_process_and_the_run_ends_cancelled(
        tmp_path: Path, tiny_project, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tiny_project(steps=5000, every=1000, train=60)
    run = _json(capsys, "submit", str(spec), "--no-promote")
    (job,) = _jobs(tmp_path)
    _wait(lambda: job.metrics_file.exists())
    assert main(["runs", "cancel", run["id"]]) == 0  # type: ignore[index]
    assert "cancelling" in capsys.readouterr().out
    _wait(lambda: not job.alive(), 60)
    assert job.status()["status"] == "cancelled" and not job.adapter_dir.exists()
    assert "cancelled; no adapter was kept" in job.events_file.read_text()  # the trainer stopped itself
    (synced,) = _json(capsys, "sync", "--no-promote")  # type: ignore[misc]
    assert synced["state"] == "cancelled" and synced["id"] == run["id"]  # type: ignore[index]
