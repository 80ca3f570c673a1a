"""A single spec with a value that would crash later (inf, 1e300, a NUL byte, deep nesting) is skipped by the
scheduler with its reason recorded; every other job is still planned and ticked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tuneops.cli import main
from tuneops.examples import RETRAIN
from tuneops.store import open_store
from tuneops.store.scheduler_tables import DecisionRow

POLICY = "\n[retrain]\nnew_examples = 1000\ncron = \"0 3 * * 1\"\n"

BAD = {
    "cooldown": ("cooldown_hours = inf", "retrain.cooldown_hours"),
    "grace": ("misfire_grace_minutes = inf", "retrain.misfire_grace_minutes"),
    "age": ("max_age_days = 1e300", "retrain.max_age_days"),
    "deep": ("providers = " + "[" * 3000 + "]" * 3000, "nested more than 16 levels deep"),
}


def _bad_specs(project: Path) -> None:
    text = project.read_text().replace(RETRAIN, "")  # each spec below states its own [retrain]
    for name, (line, _) in BAD.items():
        spec = text.replace('"support-triage"', f'"bad-{name}"', 1).replace("suffix = \"triage\"", f'suffix = "{name}"')
        (project.parent / f"bad-{name}.toml").write_text(spec + POLICY + line + "\n")
    budget = text.replace('"support-triage"', '"bad-budget"', 1).replace("per_run_usd = 25.0", "per_run_usd = inf")
    (project.parent / "bad-budget.toml").write_text(budget + POLICY)


def test_plan_and_tick_skip_each_bad_spec_with_its_reason(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _bad_specs(project)
    project.write_text(project.read_text().replace(RETRAIN, "") + POLICY)
    assert main(["schedule", "plan", "--no-estimate", "--json"]) == 0
    jobs = {j["job"]: j for j in json.loads(capsys.readouterr().out)["jobs"]}
    assert jobs["support-triage"]["decision"] == "skip" and "only 300 examples" in jobs["support-triage"]["reason"]
    for name, (_, field) in BAD.items():
        assert jobs[f"bad-{name}"]["decision"] == "skip" and field in jobs[f"bad-{name}"]["reason"]
    assert "budget.per_run_usd" in jobs["bad-budget"]["reason"]

    assert main(["schedule", "tick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["jobs"] == 6 and report["fired"] == []
    with open_store().read() as s:
        rows = {r.job_name: r for r in s.execute(select(DecisionRow)).scalars()}
    for name, (_, field) in BAD.items():
        assert rows[f"bad-{name}"].code == "spec:invalid" and field in rows[f"bad-{name}"].reason
    assert "only 300 examples" in rows["support-triage"].reason
