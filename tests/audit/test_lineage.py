"""`tuneops lineage MODEL|ALIAS`: model <- run <- dataset snapshot <- spec version <- actor, with
costs, evals and alias moves, also when the evals area is not installed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tuneops.cli import main


@pytest.fixture
def promoted(project: Path, sandbox_env: object, capsys: pytest.CaptureFixture[str]) -> dict:
    """A run on the sandbox that trained, was evaluated and took support-triage@production."""
    assert main(["submit", str(project), "--watch", "--json"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["state"] == "succeeded"
    return run


def _lineage(capsys: pytest.CaptureFixture[str], ref: str) -> dict:
    assert main(["lineage", ref, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_lineage_of_an_alias_walks_back_to_the_actor(promoted: dict,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    found = _lineage(capsys, "support-triage@production")
    assert found["alias"] == "support-triage@production"
    assert found["aliases"] == ["support-triage@production"]
    assert found["model"]["id"] == promoted["model_id"]
    assert found["run"]["id"] == promoted["id"]
    assert found["run"]["provider_job_id"] == promoted["provider_job_id"]
    assert found["dataset"]["train_sha256"] == promoted["train_sha256"]
    assert found["dataset"]["uploads"] and found["dataset"]["uploads"][0]["provider"] == "sandbox"
    assert found["spec"]["sha256"] == promoted["spec_sha256"]
    assert found["spec"]["hyperparameters"]["epochs"] == 3
    assert found["actor"] == "tester@tuneops"
    assert found["evals"] and "exact_match" in found["evals"][0]["scores"]
    actions = [e["action"] for e in found["events"]]
    assert actions[0] == "run.admitted" and "run.succeeded" in actions and "model.promoted" in actions
    assert "eval.completed" in actions


def test_model_ids_and_run_ids_lead_to_the_same_lineage(promoted: dict,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    by_model = _lineage(capsys, promoted["model_id"])
    by_run = _lineage(capsys, promoted["id"])
    assert by_model["run"]["id"] == by_run["run"]["id"] == promoted["id"]
    assert by_model["alias"] is None and by_model["aliases"] == ["support-triage@production"]


def test_the_tree_reads_from_model_to_actor(promoted: dict, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["lineage", "support-triage@production"]) == 0
    out = capsys.readouterr().out
    order = [out.index(part) for part in (promoted["model_id"], f"<- run {promoted['id']}",
                                          "<- dataset snapshot", "<- spec version", "<- actor tester@tuneops")]
    assert order == sorted(order)
    assert "evals" in out and "exact_match=" in out and "model.promoted" in out and "total cost" in out


def test_an_unknown_name_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tuneops.store import open_store

    open_store().close()
    assert main(["lineage", "ft:nothing"]) == 2
    err = capsys.readouterr().err
    assert "no model, alias or run 'ft:nothing'" in err and "Traceback" not in err


def test_without_the_evals_area_the_trail_answers(promoted: dict, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # As if models.py and the evals ledger were not installed: imports of them fail.
    monkeypatch.setitem(sys.modules, "tuneops.models", None)
    monkeypatch.setitem(sys.modules, "tuneops.evals.ledger", None)
    found = _lineage(capsys, "support-triage@production")
    assert found["model"]["id"] == promoted["model_id"] and found["run"]["id"] == promoted["id"]
    assert found["evals"] and "exact_match" in found["evals"][0]["scores"]
