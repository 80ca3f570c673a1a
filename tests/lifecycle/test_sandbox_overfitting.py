"""The overfitting flag shown honestly: the sandbox's validation loss climbs when a tiny dataset is
trained for many epochs, and `tuneops runs metrics` flags it; the example project trains without it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.examples import SPEC, _jsonl, tickets
from tuneops.runs.curves import detect_overfitting
from tuneops.sandbox.curves import Hyperparameters, build_curve
from tuneops.sandbox.data import parse_jsonl
from tuneops.sandbox.learner import RetrievalLearner


def _verdict(spec: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["submit", str(spec), "--watch", "--json", "--no-promote"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["state"] == "succeeded"
    assert main(["runs", "metrics", run["id"], "--json"]) == 0
    return json.loads(capsys.readouterr().out)["overfitting"]


def test_five_examples_for_twenty_epochs_raise_the_overfitting_flag() -> None:
    # The sandbox's learner and curve directly: its HTTP API (like OpenAI's) refuses fewer than 10.
    seen: set[str] = set()
    pairs = parse_jsonl(_jsonl(tickets(10, seed=1, seen=seen)).encode(), method="supervised").pairs[:5]
    valid = parse_jsonl(_jsonl(tickets(10, seed=2, seen=seen)).encode(), method="supervised").pairs
    curve = build_curve(RetrievalLearner(pairs), Hyperparameters(batch_size=1, n_epochs=20,
                                                                 learning_rate_multiplier=1.0),
                        seed=7, n_examples=5, train_indices=range(5), validation=valid)
    assert len(curve) == 100
    verdict = detect_overfitting(curve)
    assert verdict.flag, verdict.reason
    assert curve[-1].train_loss < curve[len(curve) // 2].train_loss


def test_ten_examples_for_twenty_epochs_are_flagged_through_the_cli(
        tmp_path: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    seen: set[str] = set()
    data = tmp_path / "jobs" / "data"
    data.mkdir(parents=True)
    (data / "support-triage.train.jsonl").write_text(_jsonl(tickets(10, seed=1, seen=seen)))
    (data / "support-triage.valid.jsonl").write_text(_jsonl(tickets(10, seed=2, seen=seen)))
    (data / "support-triage.eval.jsonl").write_text(_jsonl(tickets(10, seed=3, held_out=True, seen=seen)))
    spec = tmp_path / "jobs" / "tiny.toml"
    spec.write_text(SPEC.replace('name = "support-triage"', 'name = "tiny"').replace("epochs = 3", "epochs = 20")
                    .replace('batch_size = "auto"', "batch_size = 1")
                    .replace("min_examples = 50", "min_examples = 10"))  # the eval set here has 10
    verdict = _verdict(spec, capsys)
    assert verdict["flag"] is True, verdict["reason"]
    assert "validation loss rose" in verdict["reason"] and verdict["from_step"] > 0


def test_the_example_project_trains_without_the_flag(
        project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> None:
    verdict = _verdict(project, capsys)
    assert verdict["flag"] is False, verdict["reason"]
    assert "no sign of overfitting" in verdict["reason"]
