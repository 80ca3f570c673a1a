"""Token truth end to end: what the sandbox reports as trained is what `tuneops estimate` predicted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuneops.cli import main


def test_sandbox_trained_tokens_match_the_estimate(project: Path, sandbox_env: object,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["estimate", str(project), "--json"]) == 0
    est = json.loads(capsys.readouterr().out)["estimates"][0]
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert run["state"] == "succeeded"
    assert abs(run["trained_tokens"] - est["trained_tokens"]) <= 0.02 * est["trained_tokens"], (run, est)


def test_runs_show_and_list_put_estimate_next_to_actual(project: Path, sandbox_env: object,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project), "--watch", "--json", "--no-promote"]) == 0
    run = json.loads(capsys.readouterr().out)
    assert main(["runs", "list", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    truth = listed["estimate_vs_actual"]
    assert truth["tokens"]["actual"] == run["trained_tokens"]
    assert abs(truth["tokens"]["difference"]) <= 0.02
    assert main(["runs", "show", run["id"]]) == 0
    shown = capsys.readouterr().out
    assert f"estimated {truth['tokens']['estimated']:,}, actual {run['trained_tokens']:,}" in shown
