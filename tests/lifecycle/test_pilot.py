"""Pilot runs: a pilot that does not lift the eval score keeps the full run from ever reaching the
provider; a pilot that does lets it through, linked to the pilot in the ledger and the audit trail."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tuneops.cli import main
from tuneops.runs.pilot import sample
from tuneops.store import open_store
from tuneops.store.tables import AuditEventRow, RunRow

JOBS = "POST /v1/fine_tuning/jobs"


def _runs() -> list[RunRow]:
    from sqlalchemy import select

    with open_store().read() as s:
        return list(s.exec(select(RunRow).order_by(RunRow.created_at)).scalars())


def _audit(action: str) -> list[dict]:
    from sqlalchemy import select

    with open_store().read() as s:
        rows = s.exec(select(AuditEventRow).where(AuditEventRow.action == action)).scalars()
        return [json.loads(r.details) for r in rows]


def test_a_pilot_with_lift_admits_the_full_run_and_links_it(
        project: Path, sandbox_env: object, requests_at, capsys: pytest.CaptureFixture[str]) -> None:
    before = requests_at(JOBS)
    assert main(["submit", str(project), "--pilot", "60", "--watch", "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert requests_at(JOBS) - before == 2
    pilot, admitted = _runs()
    assert admitted.id == full["id"] and full["state"] == "succeeded"
    assert pilot.train_examples == 60 and admitted.train_examples == 300
    assert pilot.trigger == "pilot (60 examples, stratified by label, seed 0)"
    assert admitted.trigger.startswith(f"pilot {pilot.id} passed")
    [event] = _audit("run.pilot_passed")
    assert event["pilot_run_id"] == pilot.id and event["lift"] > 0.5 and event["lift_ci"][0] > 0
    # Only the full run's model takes the alias; the pilot's is never promoted.
    assert main(["models", "list", "--json"]) == 0
    aliases = {m["run_id"]: m["aliases"] for m in json.loads(capsys.readouterr().out)}
    assert aliases[admitted.id] == ["support-triage@production"] and aliases[pilot.id] == []


def test_a_pilot_without_lift_never_admits_the_full_run(
        no_lift_project: Path, sandbox_env: object, requests_at, capsys: pytest.CaptureFixture[str]) -> None:
    project = no_lift_project  # its answers never match the eval set's: the pilot learns nothing
    project.write_text(project.read_text() + "\n[pilot]\nexamples = 40\nseed = 3\n")
    before = requests_at(JOBS)
    assert main(["submit", str(project), "--watch"]) == 1
    out = capsys.readouterr().out
    assert "failed: exact_match lift +0.0000" in out and "the full run was not admitted" in out
    assert requests_at(JOBS) - before == 1  # the pilot only
    [pilot] = _runs()
    assert pilot.train_examples == 40 and pilot.trigger.startswith("pilot (40 examples")
    [event] = _audit("run.pilot_refused")
    assert event["pilot_run_id"] == pilot.id and event["lift"] == 0.0


def test_the_sample_is_seeded_and_stratified_by_label() -> None:
    lines = [json.dumps({"messages": [{"role": "user", "content": f"q{i}"},
                                      {"role": "assistant", "content": "a" if i % 4 else "b"}]})
             for i in range(200)]
    picked, stratified = sample(lines, 40, seed=1)
    assert stratified and len(picked) == 40 and picked == sample(lines, 40, seed=1)[0]
    labels = Counter(json.loads(p)["messages"][-1]["content"] for p in picked)
    assert labels == {"a": 30, "b": 10}  # 3:1 as in the data
    assert picked != sample(lines, 40, seed=2)[0]
    assert [lines.index(p) for p in picked] == sorted(lines.index(p) for p in picked)  # file order kept
