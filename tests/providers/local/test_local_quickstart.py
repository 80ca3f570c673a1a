"""The example project on the local provider: the one-line switch, and `tuneops quickstart --provider local`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.providers.local.jobs import JobDir

pytestmark = pytest.mark.local


def test_the_example_project_switches_to_local_with_one_line_and_a_base_model_dir(
        project: Path, tiny_model: Path, cleanup_jobs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    cleanup_jobs.append(project.parent.parent / ".tuneops" / "local")
    text = project.read_text()
    project.write_text(text.replace('provider = "sandbox"', 'provider = "local"', 1)
                       + f'\n[options.local]\nbase_model_dir = "{tiny_model}"\n')
    assert main(["validate", str(project)]) == 0
    capsys.readouterr()
    assert main(["submit", str(project), "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["provider"] == "local" and run["state"] in ("queued", "running")
    job = JobDir(project.parent.parent / ".tuneops" / "local" / "jobs" / run["provider_job_id"])
    # The spec's portable settings reach the training process: 3 epochs, batch size "auto" (8), seed 7.
    assert job.config()["hyperparameters"] == {"epochs": 3, "batch_size": 8, "learning_rate": 2e-4, "seed": 7}
    assert job.config()["base_source"] == str(tiny_model)
    assert main(["runs", "cancel", run["id"]]) == 0


@pytest.mark.slow
def test_quickstart_on_the_local_provider_trains_evaluates_and_promotes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # one line per message
    root = tmp_path / "qs"
    assert main(["quickstart", "--provider", "local", "--keep", str(root)]) == 0
    out = capsys.readouterr().out
    assert "a tiny random model built in models/tiny-chat" in out and "model id: local:support-triage-" in out
    assert main(["--db", str(root / ".tuneops" / "tuneops.db"), "models", "list", "--json"]) == 0
    (model,) = json.loads(capsys.readouterr().out)
    assert model["provider"] == "local" and model["aliases"] == ["support-triage@production"]
    assert model["scores"]["exact_match"] >= 0.8
