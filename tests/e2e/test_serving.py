"""Serving end to end over real HTTP against the sandbox, as a user runs it: submit --watch deploys the
model the spec asks to serve, evaluates it through the deployment and promotes it; undeploy deletes it;
and a deploy killed (SIGKILL) right after the sandbox made the deployment is finished by the next
`tuneops deploy`, which finds it by name: one deployment, never two."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tuneops.cli import main

_FLOW = Path(__file__).parents[1] / "lifecycle" / "servingflow.py"
PUT = "PUT /v1/deployments/{name}"


def _servingflow() -> Any:
    import importlib.util

    if "servingflow" not in sys.modules:
        spec = importlib.util.spec_from_file_location("servingflow", _FLOW)
        assert spec and spec.loader
        sys.modules["servingflow"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["servingflow"])
    return sys.modules["servingflow"]


sf = _servingflow()


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_submit_watch_deploys_evaluates_through_the_deployment_and_undeploy_deletes_it(
        project: Path, sandbox_env: object, requests_at: Any, capsys: pytest.CaptureFixture[str]) -> None:
    spec = sf.write_job(project, provider="sandbox", base="sandbox-mini", serve={"mode": "dedicated"})
    puts, chats = requests_at(PUT), requests_at("POST /v1/chat/completions")
    assert main(["submit", str(spec), "--watch"]) == 0
    out = capsys.readouterr().out
    assert "promoted" in out, out
    run = _json(capsys, "runs", "list")[0]
    dep = _json(capsys, "runs", "show", run["id"])["deployment"]
    assert (dep["state"], dep["mode"], dep["hourly_cost_microusd"], dep["endpoint"]) == (
        "deployed", "dedicated", 0, "tuneops-" + run["id"].replace("_", "-"))
    assert requests_at(PUT) - puts == 1 and requests_at("POST /v1/chat/completions") - chats == sf.EVAL_EXAMPLES
    assert _json(capsys, "models", "list")[0]["deployment_state"] == "deployed"

    capsys.readouterr()
    assert main(["undeploy", "support-triage@production"]) == 0
    assert "undeployed" in capsys.readouterr().out
    assert requests_at("DELETE /v1/deployments/{name}") >= 1
    assert _json(capsys, "runs", "show", run["id"])["deployment"]["state"] == "undeployed"


def test_a_deploy_killed_after_the_provider_answered_is_finished_by_the_next_one(
        project: Path, sandbox_env: object, requests_at: Any, capsys: pytest.CaptureFixture[str],
        tmp_path: Path) -> None:
    spec = sf.write_job(project, provider="sandbox", base="sandbox-mini", serve={"mode": "none"})
    assert main(["submit", str(spec), "--watch", "--no-promote"]) == 0
    run = _json(capsys, "runs", "list")[0]
    puts = requests_at(PUT)
    child = subprocess.run([sys.executable, "-m", "tuneops", "deploy", run["id"], "--mode", "on_demand"],
                           cwd=tmp_path, env={**os.environ, "TUNEOPS_CRASH_AT": "during-deploy"},
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert requests_at(PUT) - puts == 1  # the sandbox made it; the ledger never heard
    dep = _json(capsys, "runs", "show", run["id"])["deployment"]
    assert (dep["state"], dep["provider_deployment_id"]) == ("deploying", None)

    capsys.readouterr()
    assert main(["deploy", run["id"], "--mode", "on_demand"]) == 0
    assert "deployed" in capsys.readouterr().out
    dep = _json(capsys, "runs", "show", run["id"])["deployment"]
    assert dep["state"] == "deployed" and dep["provider_deployment_id"] == "dep-" + dep["name"]
    assert requests_at(PUT) - puts == 1  # found by its name: no second deployment
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0
